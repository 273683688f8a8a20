"""Sync and async flows against a real server: states, failures, parameters, logs, context."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from inloop import flow, get_client, get_run_context, get_run_logger
from inloop.schemas import FlowRun, StateType

# Awaits @dual functions the way the seed examples do: right at run time, reported by a type
# checker (see inloop._dual), hence the `type: ignore[misc]` on those lines.

if TYPE_CHECKING:
    from tests.servers import ServerInfo

NAME = re.compile(r"^[a-z]+-[a-z]+$")
pytestmark = pytest.mark.usefixtures("server")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def only_run(flow_name: str) -> FlowRun:
    [run] = get_client().read_flow_runs(flow_name=flow_name)
    return run


def history(run: FlowRun) -> list[StateType]:
    return [s.type for s in get_client().read_flow_run_states(run.id)]


def assert_ordered_timestamps(run: FlowRun) -> None:
    stamps = [s.timestamp for s in get_client().read_flow_run_states(run.id)]
    assert all(isinstance(t, datetime) for t in stamps)
    assert stamps == sorted(stamps)  # type: ignore[type-var]


def test_sync_flow_completes_with_history() -> None:
    name = unique("sync-ok")

    @flow(name=name)
    def add(a: int, b: int = 2) -> int:
        return a + b

    assert add(1) == 3
    run = only_run(name)
    assert run.flow_name == name
    assert NAME.fullmatch(run.name)
    assert run.state.is_completed() and run.state.is_final()
    assert run.parameters == {"a": 1, "b": 2}
    assert run.start_time is not None and run.end_time is not None
    assert run.start_time <= run.end_time
    assert history(run) == [StateType.PENDING, StateType.RUNNING, StateType.COMPLETED]
    assert_ordered_timestamps(run)


async def test_async_flow_completes_with_history() -> None:
    name = unique("async-ok")

    @flow(name=name)
    async def shout(word: str) -> str:
        return word.upper()

    assert await shout(word="hi") == "HI"
    async with get_client() as client:
        [run] = await client.read_flow_runs(flow_name=name)  # type: ignore[misc]
        states = await client.read_flow_run_states(run.id)  # type: ignore[misc]
    assert run.parameters == {"word": "hi"}
    assert NAME.fullmatch(run.name)
    assert [s.type for s in states] == [StateType.PENDING, StateType.RUNNING, StateType.COMPLETED]
    assert all(s.timestamp is not None for s in states)


def test_default_flow_name_comes_from_the_function() -> None:
    @flow
    def my_plain_flow() -> str:
        return get_run_context().flow_run.flow_name

    assert my_plain_flow() == "my-plain-flow"


def test_sync_flow_failure_is_recorded_and_reraised() -> None:
    name = unique("sync-fail")

    @flow(name=name)
    def broken() -> None:
        raise ValueError("the answer is not 42")

    with pytest.raises(ValueError, match="the answer is not 42"):
        broken()
    run = only_run(name)
    assert run.state.is_failed() and run.state.is_final()
    assert run.state.message is not None
    assert "ValueError" in run.state.message
    assert "the answer is not 42" in run.state.message
    assert history(run) == [StateType.PENDING, StateType.RUNNING, StateType.FAILED]
    assert_ordered_timestamps(run)


async def test_async_flow_failure_is_recorded_and_reraised() -> None:
    name = unique("async-fail")

    class CustomError(Exception):
        pass

    @flow(name=name)
    async def broken() -> None:
        raise CustomError("custom trouble")

    with pytest.raises(CustomError):
        await broken()
    [run] = await get_client().read_flow_runs(flow_name=name)  # type: ignore[misc]
    assert run.state.type is StateType.FAILED
    assert run.state.message is not None
    assert "CustomError" in run.state.message and "custom trouble" in run.state.message


def test_failure_traceback_reaches_the_run_log() -> None:
    name = unique("fail-log")

    @flow(name=name)
    def broken() -> None:
        raise KeyError("missing-thing")

    with pytest.raises(KeyError):
        broken()
    messages = "\n".join(r.message for r in get_client().read_logs(only_run(name).id))
    assert "KeyError" in messages and "missing-thing" in messages
    assert "Traceback" in messages


def test_parameters_that_are_not_json_are_recorded_readably() -> None:
    name = unique("params")

    class Thing:
        def __repr__(self) -> str:
            return "<Thing 7>"

    @flow(name=name)
    def takes(items: list[Any], nested: dict[str, Any], thing: Any = None) -> int:
        return len(items)

    assert takes([1, "two", None], {"a": {"b": [True]}}, thing=Thing()) == 3
    run = only_run(name)
    assert run.parameters["items"] == [1, "two", None]
    assert run.parameters["nested"] == {"a": {"b": [True]}}
    assert run.parameters["thing"] == "<Thing 7>"


def test_bad_arguments_fail_before_a_run_is_created() -> None:
    name = unique("bad-args")

    @flow(name=name)
    def needs(a: int) -> int:
        return a

    with pytest.raises(TypeError, match=f"flow '{name}' called with bad arguments"):
        needs(1, 2)  # type: ignore[call-arg]
    assert get_client().read_flow_runs(flow_name=name) == []


def test_log_prints_land_in_the_run_log(capsys: pytest.CaptureFixture[str]) -> None:
    name = unique("prints")

    @flow(name=name, log_prints=True)
    def chatty() -> None:
        print("hello", "from", "print", sep="-")

    @flow(name=f"{name}-quiet")
    def quiet() -> None:
        print("only on stdout")

    chatty()
    quiet()
    logs = get_client().read_logs(only_run(name).id)
    assert "hello-from-print" in [r.message for r in logs]
    assert "only on stdout" in capsys.readouterr().out
    quiet_logs = get_client().read_logs(only_run(f"{name}-quiet").id)
    assert "only on stdout" not in [r.message for r in quiet_logs]


def test_run_logger_records_reach_the_logs_endpoint(server: ServerInfo) -> None:
    name = unique("logger")

    @flow(name=name)
    def logs_things() -> str:
        logger = get_run_logger()
        logger.info("first %s", "record")
        logger.warning("second record")
        logger.debug("below the default level")
        return str(get_run_context().flow_run.id)

    run_id = logs_things()
    response = httpx.get(f"{server.api_url}/flow_runs/{run_id}/logs")
    assert response.status_code == 200
    records = response.json()
    mine = [(r["level_name"], r["message"]) for r in records if r["logger"] == "inloop.flow_runs"]
    assert ("INFO", "first record") in mine
    assert ("WARNING", "second record") in mine
    assert all(r["flow_run_id"] == run_id for r in records)
    ids = [r["id"] for r in records]
    assert ids == sorted(ids)
    # Cursor paging: nothing after the last id.
    later = httpx.get(f"{server.api_url}/flow_runs/{run_id}/logs", params={"after_id": ids[-1]})
    assert later.json() == []


async def test_async_flow_logs_and_context() -> None:
    name = unique("async-ctx")

    @flow(name=name, log_prints=True)
    async def where() -> tuple[str, str]:
        ctx = get_run_context()
        get_run_logger().info("async record")
        print("async print")
        return str(ctx.flow_run.id), ctx.flow_run.name

    run_id, run_name = await where()
    async with get_client() as client:
        run = await client.read_flow_run(run_id)  # type: ignore[misc]
        messages = [r.message for r in await client.read_logs(run_id)]  # type: ignore[misc]
    assert run.name == run_name
    assert "async record" in messages and "async print" in messages


def test_run_context_names_the_run() -> None:
    name = unique("ctx")

    @flow(name=name)
    def who_am_i() -> tuple[str, str]:
        ctx = get_run_context()
        return str(ctx.flow_run.id), ctx.flow_run.name

    run_id, run_name = who_am_i()
    run = only_run(name)
    assert (str(run.id), run.name) == (run_id, run_name)


def test_run_context_outside_a_flow_explains() -> None:
    with pytest.raises(RuntimeError, match="outside a flow run"):
        get_run_context()


def test_client_inside_a_sync_flow_sees_it_running() -> None:
    name = unique("client-sync")

    @flow(name=name)
    def look() -> tuple[bool, bool, str]:
        client = get_client()
        run = client.read_flow_run(get_run_context().flow_run.id)
        return run.state.is_running(), run.state.is_final(), run.state.name

    assert look() == (True, False, "Running")
    run = get_client().read_flow_run(only_run(name).id)
    assert isinstance(run, FlowRun)
    assert run.state.is_final() and run.state.is_completed() and not run.state.is_running()
    assert not run.state.is_paused()


async def test_client_inside_an_async_flow_with_async_with() -> None:
    name = unique("client-async")

    @flow(name=name)
    async def look() -> bool:
        async with get_client() as client:
            run = await client.read_flow_run(get_run_context().flow_run.id)  # type: ignore[misc]
        return run.state.is_running()

    assert await look() is True
    client = get_client()
    [listed] = await client.read_flow_runs(flow_name=name)  # type: ignore[misc]
    run = await client.read_flow_run(listed.id)  # type: ignore[misc]
    assert run.state.type is StateType.COMPLETED


async def test_sync_flow_called_from_async_code() -> None:
    name = unique("sync-in-async")

    @flow(name=name)
    def plain() -> bool:
        # Sync flows run on a thread with no running loop: the client answers directly.
        return get_client().read_flow_run(get_run_context().flow_run.id).state.is_running()

    assert plain() is True
    [run] = await get_client().read_flow_runs(flow_name=name)  # type: ignore[misc]
    assert run.state.is_completed()


def test_subflow_runs_are_their_own_runs() -> None:
    name = unique("outer")

    @flow(name=f"{name}-inner")
    def inner(x: int) -> int:
        return x * 2

    @flow(name=name)
    def outer() -> int:
        return inner(2) + inner(3)

    assert outer() == 10
    assert len(get_client().read_flow_runs(flow_name=f"{name}-inner")) == 2


def test_read_flow_runs_filters_by_flow_and_state() -> None:
    name = unique("filter")

    @flow(name=name)
    def maybe(fail: bool) -> None:
        if fail:
            raise RuntimeError("asked to fail")

    @flow(name=f"{name}-other")
    def other() -> None:
        pass

    for fail in (False, True, False):
        try:
            maybe(fail)
        except RuntimeError:
            pass
    other()

    client = get_client()
    assert len(client.read_flow_runs(flow_name=name)) == 3
    assert len(client.read_flow_runs(flow_name=f"{name}-other")) == 1
    failed = client.read_flow_runs(flow_name=name, state=StateType.FAILED)
    assert [r.parameters for r in failed] == [{"fail": True}]
    assert len(client.read_flow_runs(flow_name=name, state="completed")) == 2
    both = client.read_flow_runs(flow_name=name, state=["COMPLETED", StateType.FAILED])
    assert len(both) == 3
    assert client.read_flow_runs(flow_name=name, state=StateType.RUNNING) == []
    # Newest first, and paging.
    newest = client.read_flow_runs(flow_name=name, limit=1)
    assert newest[0].parameters == {"fail": False}
    assert len(client.read_flow_runs(flow_name=name, limit=2, offset=2)) == 1


def test_console_shows_the_run_and_its_link(
    run_flow_script: Any, server: ServerInfo
) -> None:
    script = """
from inloop import flow, get_run_logger

@flow(name="console-check")
def hello():
    get_run_logger().info("inside the flow")
    return 1

hello()
"""
    process = run_flow_script(script)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    created = re.search(
        r"^\d\d:\d\d:\d\d\.\d{3} \| INFO    \| inloop\.engine - "
        r"Created flow run '([a-z]+-[a-z]+)' for flow 'console-check'$",
        err,
        re.MULTILINE,
    )
    assert created, err
    run_name = created.group(1)
    view = re.search(
        rf"Flow run '{run_name}' - View at {re.escape(server.ui_url)}/runs/([0-9a-f-]{{36}})", err
    )
    assert view, err
    assert f"| INFO    | Flow run '{run_name}' - inside the flow" in err
    run = get_client().read_flow_run(view.group(1))
    assert run.name == run_name and run.state.is_completed()
    assert "inside the flow" in [r.message for r in get_client().read_logs(run.id)]


def test_many_log_records_arrive_in_order() -> None:
    name = unique("many-logs")

    @flow(name=name)
    def noisy() -> None:
        logger = get_run_logger()
        for i in range(1200):
            logger.info("record %d", i)

    noisy()
    run = only_run(name)
    found: list[str] = []
    after = 0
    while page := get_client().read_logs(run.id, after_id=after, limit=500):
        found += [r.message for r in page]
        after = page[-1].id
    numbered = [m for m in found if m.startswith("record ")]
    assert numbered == [f"record {i}" for i in range(1200)]
