"""What a type checker sees of the dual-call rule: exact types, never `Any` (see inloop._dual).

Runs mypy itself on a small program that uses the public API the way the seed does, in sync and
async code, and reads back the revealed types.
"""

from __future__ import annotations

import inspect
import re
import textwrap
from pathlib import Path

import pytest

import inloop
from inloop.blocks.system import JSON
from inloop.input.run_input import GetInputHandler, RunInput

mypy_api = pytest.importorskip("mypy.api")

PROGRAM = '''
from inloop._dual import on_io_loop
from inloop.blocks.system import JSON
from inloop.client import get_client
from inloop.deployments import run_deployment, run_deployment_async
from inloop.flow_runs import resume_flow_run, resume_flow_run_async
from inloop.input import RunInput, asend_input, receive_input, send_input


class Name(RunInput):
    name: str


def sync_code() -> None:
    client = get_client()
    reveal_type(client.read_flow_run("x"))  # sync: read_flow_run
    reveal_type(client.read_flow_runs(limit=3))  # sync: read_flow_runs
    reveal_type(run_deployment("flow/name"))  # sync: run_deployment
    reveal_type(resume_flow_run("x"))  # sync: resume_flow_run
    reveal_type(send_input("hi", flow_run_id="x"))  # sync: send_input
    reveal_type(Name.load({"response": "k"}))  # sync: RunInput.load
    reveal_type(Name(name="a").respond("hi"))  # sync: RunInput.respond
    reveal_type(JSON.load("seen"))  # sync: JSON.load
    reveal_type(JSON(value=[]).save("seen"))  # sync: JSON.save
    reveal_type(receive_input(Name).next())  # sync: next


async def async_code() -> None:
    client = get_client()
    reveal_type(await on_io_loop(client.read_flow_run.aio("x")))  # async: read_flow_run
    reveal_type(await run_deployment_async("flow/name"))  # async: run_deployment_async
    reveal_type(await resume_flow_run_async("x"))  # async: resume_flow_run_async
    reveal_type(await asend_input("hi", flow_run_id="x"))  # async: asend_input
    reveal_type(await Name.aload({"response": "k"}))  # async: RunInput.aload
    reveal_type(await Name.load_async({"response": "k"}))  # async: RunInput.load_async
    reveal_type(await Name(name="a").arespond("hi"))  # async: RunInput.arespond
    reveal_type(await JSON.load_async("seen"))  # async: JSON.load_async
    reveal_type(await receive_input(Name).anext())  # async: anext
    await client.read_flow_run("x")  # untyped path: the checker sends typed code to a twin
'''

EXPECTED = {
    "sync: read_flow_run": "inloop.schemas.runs.FlowRun",
    "sync: read_flow_runs": "list[inloop.schemas.runs.FlowRun]",
    "sync: run_deployment": "inloop.schemas.runs.FlowRun",
    "sync: resume_flow_run": "inloop.schemas.runs.FlowRun",
    "sync: send_input": "None",
    "sync: RunInput.load": "program.Name",
    "sync: RunInput.respond": "None",
    "sync: JSON.load": "inloop.blocks.system.JSON",
    "sync: JSON.save": "uuid.UUID",
    "sync: next": "program.Name",
    "async: read_flow_run": "inloop.schemas.runs.FlowRun",
    "async: run_deployment_async": "inloop.schemas.runs.FlowRun",
    "async: resume_flow_run_async": "inloop.schemas.runs.FlowRun",
    "async: asend_input": "None",
    "async: RunInput.aload": "program.Name",
    "async: RunInput.load_async": "program.Name",
    "async: RunInput.arespond": "None",
    "async: JSON.load_async": "inloop.blocks.system.JSON",
    "async: anext": "program.Name",
}


def test_mypy_sees_the_real_return_types(tmp_path: Path, pytestconfig: pytest.Config) -> None:
    program = tmp_path / "program.py"
    program.write_text(textwrap.dedent(PROGRAM))
    src = Path(inloop.__file__).resolve().parents[1]  # this checkout's sources, not an install
    config = tmp_path / "mypy.ini"
    # follow_imports=silent: inloop is type-checked by its own (strict) run; here only its types
    # matter, and the answer must not depend on the caller's mypy settings.
    config.write_text(f"[mypy]\nmypy_path = {src}\nfollow_imports = silent\nstrict = True\n")
    # mypy reads inloop, pydantic and httpx once (seconds of CPU); pytest's cache keeps that
    # between runs when it is on, and mypy checks each cached module against its source.
    cache = getattr(pytestconfig, "cache", None)
    cache_dir = cache.mkdir("mypy-dual-types") if cache is not None else tmp_path / ".mypy_cache"
    out, err, _ = mypy_api.run([
        "--config-file", str(config), "--cache-dir", str(cache_dir),
        "--no-error-summary", "--show-error-codes", str(program),
    ])
    lines = PROGRAM.splitlines()
    revealed: dict[str, str] = {}
    errors: list[tuple[str, str]] = []
    for line in out.splitlines():
        found = re.match(r".*program\.py:(\d+): (note|error): (.*)", line)
        assert found, f"unexpected mypy output: {line!r}\n{out}{err}"
        source = lines[int(found[1]) - 1]
        kind, message = found[2], found[3]
        if kind == "note" and message.startswith("Revealed type is"):
            revealed[source.split("# ")[-1]] = message.split('"')[1]
        elif kind == "error":
            errors.append((source.strip(), message))
    assert revealed == EXPECTED, out
    # The one thing typed code cannot do: await the plain call. mypy says so instead of
    # letting a wrong type through (inloop._dual explains the choice).
    assert errors == [
        (
            'await client.read_flow_run("x")  # untyped path: the checker sends typed code to '
            "a twin",
            'Incompatible types in "await" (actual type "FlowRun", expected type '
            '"Awaitable[Any]")  [misc]',
        )
    ], out


@pytest.mark.parametrize(
    ("owner", "name", "alias"),
    [
        (RunInput, "save", "asave"),
        (RunInput, "load", "aload"),
        (RunInput, "send_to", "asend_to"),
        (RunInput, "respond", "arespond"),
        (GetInputHandler, "next", "anext"),
        (JSON, "save", None),
        (JSON, "load", None),
    ],
)
def test_one_twin_per_dual_method_and_the_reference_names_are_the_same_object(
    owner: type, name: str, alias: str | None
) -> None:
    twin = vars(owner)[f"{name}_async"]
    if alias is not None:
        assert vars(owner)[alias] is twin
    function = twin.__func__ if isinstance(twin, classmethod) else twin
    assert inspect.iscoroutinefunction(function)
    assert function.__name__ == f"{name}_async"
    assert function.__doc__ == vars(owner)[name].__doc__


def test_the_module_level_reference_name_is_the_twin() -> None:
    from inloop.input import asend_input, send_input_async

    assert asend_input is send_input_async
