"""Every import path the seed uses (with `prefect` -> `inloop`) resolves."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import pytest

import inloop


def test_seed_imports() -> None:
    from inloop import flow, get_client, pause_flow_run
    from inloop.blocks.system import JSON
    from inloop.context import get_run_context
    from inloop.deployments import run_deployment
    from inloop.flow_runs import pause_flow_run as pause_from_flow_runs
    from inloop.flow_runs import suspend_flow_run
    from inloop.input import RunInput
    from inloop.input.run_input import RunInput as RunInputFromModule
    from inloop.input.run_input import receive_input, send_input
    from inloop.logging import get_run_logger

    assert RunInput is RunInputFromModule
    assert pause_flow_run is pause_from_flow_runs
    for obj in (
        flow,
        get_client,
        pause_flow_run,
        suspend_flow_run,
        get_run_logger,
        receive_input,
        send_input,
        get_run_context,
        run_deployment,
    ):
        assert callable(obj)
    assert inspect.isclass(JSON)
    assert inspect.isclass(RunInput)


@pytest.mark.parametrize("name", inloop.__all__)
def test_every_name_in_all_resolves(name: str) -> None:
    assert getattr(inloop, name) is not None


def test_top_level_conveniences_match_their_modules() -> None:
    from inloop import context, flow_runs, flows
    from inloop import logging as inloop_logging

    assert inloop.flow is flows.flow
    assert inloop.Flow is flows.Flow
    assert inloop.pause_flow_run is flow_runs.pause_flow_run
    assert inloop.suspend_flow_run is flow_runs.suspend_flow_run
    assert inloop.resume_flow_run is flow_runs.resume_flow_run
    assert inloop.get_run_logger is inloop_logging.get_run_logger
    assert inloop.get_run_context is context.get_run_context


@pytest.mark.parametrize(
    "module",
    [
        "inloop.flows",
        "inloop.tasks",
        "inloop.client",
        "inloop.context",
        "inloop.flow_runs",
        "inloop.input",
        "inloop.input.run_input",
        "inloop.blocks.system",
        "inloop.deployments",
        "inloop.logging",
        "inloop.settings",
        "inloop.schemas",
    ],
)
def test_module_all_names_resolve(module: str) -> None:
    mod = importlib.import_module(module)
    assert hasattr(mod, "__all__"), f"{module} has no __all__"
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.__all__ names {name!r}, which is missing"


def test_dir_lists_the_public_api() -> None:
    assert set(inloop.__all__) <= set(dir(inloop))


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        inloop.nope  # noqa: B018


def test_import_is_cheap() -> None:
    """`import inloop` loads neither the server nor the HTTP stack."""
    code = (
        "import sys, inloop; "
        "heavy = [m for m in ('fastapi', 'sqlalchemy', 'httpx', 'uvicorn', 'inloop.server') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
