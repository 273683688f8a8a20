"""The client package's public face: what `inloop.client` exports, and who may call `_send`."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

import pytest

import inloop.client
from inloop.client import automations, deployments, inputs, offers, people, runs
from inloop.server import errors as server_errors

REPO = Path(__file__).resolve().parents[2]
CLIENT_PACKAGE = REPO / "src" / "inloop" / "client"
AREAS = [automations, deployments, inputs, offers, people, runs]


@pytest.mark.parametrize("name", inloop.client.__all__)
def test_every_name_in_all_resolves(name: str) -> None:
    assert getattr(inloop.client, name) is not None


def test_errors_are_named_by_their_public_path() -> None:
    # What a traceback prints: the import path users know, not the module the class lives in.
    assert inloop.client.ObjectNotFound.__module__ == "inloop.client"
    assert inloop.client.InloopClient.__module__ == "inloop.client"


def test_only_the_package_itself_calls_send() -> None:
    this_file = Path(__file__).resolve()
    callers = [
        f"{path.relative_to(REPO)}:{number}"
        for top in ("src", "tests", "bench", "scripts", "examples")
        for path in sorted((REPO / top).rglob("*.py"))
        if CLIENT_PACKAGE not in path.parents and path != this_file
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\._send\(", line)
    ]
    assert callers == [], "call a public client method instead of `_send`"


def test_the_old_conflict_name_is_the_same_class() -> None:
    from inloop.client import Conflict, ConflictError, ObjectAlreadyExists, WrongState

    assert Conflict is ConflictError
    assert issubclass(WrongState, Conflict)
    assert issubclass(ObjectAlreadyExists, Conflict)
    with pytest.raises(Conflict):
        raise WrongState(409, "flow run is Suspended", "GET", "/x")


def test_no_error_name_is_shared_with_the_server() -> None:
    shared = set(inloop.client.__all__) & set(server_errors.__all__)
    assert shared == {"Conflict"}  # only the old alias, kept for user code
    # Two different classes are the point; a type checker sees that they never overlap.
    assert inloop.client.Conflict is not server_errors.Conflict  # type: ignore[comparison-overlap]


@pytest.mark.parametrize("area", AREAS, ids=lambda area: area.__name__.rsplit(".", 1)[-1])
def test_every_call_of_an_area_is_a_client_method_of_the_same_name(area: ModuleType) -> None:
    for name in area.__all__:
        assert getattr(inloop.client.InloopClient, name) is getattr(area, name), name
