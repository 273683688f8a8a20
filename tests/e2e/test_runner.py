"""Flow.serve and run_deployment with real processes: a runner, its run processes, a server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from inloop.client import InloopAPIError, ObjectNotFound, get_client
from inloop.deployments import run_deployment
from inloop.schemas import StateType
from tests.e2e.processes import kill_runner_and_runs
from tests.waiting import wait_for

FLOWS_DIR = Path(__file__).resolve().parents[1] / "flows"
HELLO = FLOWS_DIR / "hello_served.py"


def serve_hello(spawn: Any, deployment: str, env: dict[str, str] | None = None) -> Any:
    runner = spawn(HELLO, deployment, env=env)
    runner.wait_for_output("is being served")
    return runner


def final(run_id: Any, timeout: float = 20) -> Any:
    client = get_client()
    return wait_for(
        lambda: (run := client.read_flow_run(run_id)).state.is_final() and run, timeout
    )


def state_of(run_id: Any) -> StateType:
    return get_client().read_flow_run(run_id).state.type


def test_serve_registers_runs_and_stops_cleanly(server: Any, spawn: Any) -> None:
    runner = serve_hello(spawn, "basic")
    out = runner.stdout
    assert "Your flow 'hello' is being served and polling for scheduled runs!" in out
    assert "$ inloop deployment run 'hello/basic'" in out
    assert f"{server.ui_url}/deployments" in out

    deployment = next(d for d in get_client().read_deployments() if d.full_name == "hello/basic")
    path, _, attr = deployment.entrypoint.rpartition(":")
    assert os.path.isabs(path) and attr == "hello"
    assert deployment.parameter_schema["required"] == ["name"]
    assert deployment.parameter_schema["additionalProperties"] is False

    run = run_deployment("hello/basic", {"name": "ada", "times": 2})
    assert run.state.type is StateType.COMPLETED
    assert run.deployment_name == "basic"
    runner.wait_for_output("hello ada!\nhello ada!")
    assert runner.stop(signal.SIGINT) == 0
    assert "Traceback" not in runner.output
    assert "Runner for 'hello/basic' stopped" in runner.output


def test_run_deployment_timeouts(server: Any, spawn: Any) -> None:
    runner = serve_hello(spawn, "timeouts")
    run = run_deployment("hello/timeouts", {"name": "quick"}, timeout=0)
    assert run.state.type is StateType.SCHEDULED
    assert final(run.id).state.type is StateType.COMPLETED

    started = time.monotonic()
    slow = run_deployment("hello/timeouts", {"name": "s", "mode": "sleep"}, timeout=1.5)
    assert 1.4 < time.monotonic() - started < 10
    assert slow.state.type in (StateType.PENDING, StateType.RUNNING)
    get_client().cancel_flow_run(slow.id)
    runner.wait_for_output("was cancelled; stopping its process")
    assert final(slow.id).state.type is StateType.CANCELLED
    runner.stop()


# Awaits @dual functions the way the seed examples do: right at run time, reported by a type
# checker (see inloop._dual), hence the `type: ignore[misc]` on those lines.
async def test_run_deployment_is_awaitable_and_links_parent(server: Any, spawn: Any) -> None:
    serve_hello(spawn, "aio")
    client = get_client()
    parent = await client.create_flow_run("parent-flow")  # type: ignore[misc]
    from inloop import context

    token = context.enter(context.FlowRunContext(flow_run=parent))
    try:
        child = await run_deployment("hello/aio", {"name": "kid"})  # type: ignore[misc]
        detached = await run_deployment("hello/aio", {"name": "solo"}, as_subflow=False)  # type: ignore[misc]
    finally:
        context.leave(token)
    assert child.state.type is StateType.COMPLETED
    assert child.parent_flow_run_id == parent.id
    assert detached.parent_flow_run_id is None


def test_unknown_deployment_lists_known_names(server: Any, spawn: Any) -> None:
    serve_hello(spawn, "known")
    with pytest.raises(ObjectNotFound) as caught:
        run_deployment("hello/unknown", timeout=0)
    assert "deployment 'hello/unknown' not found" in str(caught.value)
    assert "hello/known" in str(caught.value)
    with pytest.raises(ValueError, match="flow-name/deployment-name"):
        run_deployment("no-slash", timeout=0)


def test_parameters_that_do_not_match_the_signature_are_422(server: Any, spawn: Any) -> None:
    serve_hello(spawn, "params")
    with pytest.raises(InloopAPIError) as caught:
        run_deployment("hello/params", {"nam": "typo", "times": "many"}, timeout=0)
    assert caught.value.status_code == 422
    text = str(caught.value)
    assert "'name' is a required property" in text or "field 'name' is required" in text
    assert "nam" in text and "unexpected" in text
    assert "times" in text and "integer" in text


def test_failing_and_crashing_runs(server: Any, spawn: Any) -> None:
    runner = serve_hello(spawn, "bad")
    failed = run_deployment("hello/bad", {"name": "f", "mode": "fail"})
    assert failed.state.type is StateType.FAILED
    assert "asked to fail" in (failed.state.message or "")

    crashed = run_deployment("hello/bad", {"name": "c", "mode": "exit"})
    assert crashed.state.type is StateType.CRASHED
    assert "exited with code 3" in (crashed.state.message or "")
    # The runner goes on serving.
    assert run_deployment("hello/bad", {"name": "ok"}).state.type is StateType.COMPLETED
    assert runner.stop() == 0


def test_first_interrupt_lets_runs_finish_second_cancels(server: Any, spawn: Any) -> None:
    runner = serve_hello(spawn, "stop")
    run = run_deployment("hello/stop", {"name": "long", "mode": "sleep"}, timeout=0)
    wait_for(lambda: state_of(run.id) is StateType.RUNNING)
    runner.send(signal.SIGINT)
    runner.wait_for_output("Waiting for 1 running flow run(s) to finish")
    # No new runs are taken meanwhile.
    later = run_deployment("hello/stop", {"name": "later"}, timeout=0)
    assert state_of(run.id) is StateType.RUNNING
    runner.send(signal.SIGINT)
    assert runner.wait() == 0
    cancelled = final(run.id)
    assert cancelled.state.type is StateType.CANCELLED
    assert "runner serving this flow run was stopped" in (cancelled.state.message or "")
    assert state_of(later.id) is StateType.SCHEDULED
    assert "Traceback" not in runner.output

    # A new runner picks up what was left scheduled.
    serve_hello(spawn, "stop")
    assert final(later.id).state.type is StateType.COMPLETED


def test_sigterm_lets_a_running_run_finish(server: Any, spawn: Any) -> None:
    source = '''
import time
from inloop import flow
from inloop.input.run_input import receive_input


@flow
def waiter():
    print("waiting", receive_input(str, timeout=30).next())


if __name__ == "__main__":
    waiter.serve(name="term")
'''
    runner = spawn(source)
    runner.wait_for_output("is being served")
    run = run_deployment("waiter/term", timeout=0)
    wait_for(lambda: state_of(run.id) is StateType.RUNNING)
    runner.send(signal.SIGTERM)
    runner.wait_for_output("Waiting for 1 running flow run(s)")
    from inloop.input.run_input import send_input

    send_input("done", flow_run_id=run.id)
    assert runner.wait() == 0
    assert final(run.id).state.type is StateType.COMPLETED
    assert "waiting done" in runner.stdout


def test_async_serve_inside_a_running_loop(server: Any, spawn: Any) -> None:
    source = '''
import asyncio
from inloop import flow


@flow
async def shout(word: str):
    print(word.upper())


async def main():
    coro = shout.serve(name="in-loop")
    assert asyncio.iscoroutine(coro)
    stopped_by_signal = await coro
    print("serve returned", stopped_by_signal)


if __name__ == "__main__":
    asyncio.run(main())
'''
    runner = spawn(source)
    runner.wait_for_output("is being served")
    assert run_deployment("shout/in-loop", {"word": "hey"}).state.type is StateType.COMPLETED
    runner.wait_for_output("HEY")
    assert runner.stop(signal.SIGTERM) == 0
    assert "serve returned True" in runner.stdout
    assert "Traceback" not in runner.output


def test_limit_caps_concurrent_runs(server: Any, spawn: Any) -> None:
    runner = serve_hello(spawn, "limit", env={"LIMIT": "1"})
    first = run_deployment("hello/limit", {"name": "a", "mode": "sleep"}, timeout=0)
    wait_for(lambda: state_of(first.id) is StateType.RUNNING)
    second = run_deployment("hello/limit", {"name": "b"}, timeout=1)
    assert second.state.type is StateType.SCHEDULED
    get_client().cancel_flow_run(first.id)
    assert final(second.id).state.type is StateType.COMPLETED
    assert runner.stop() == 0


def test_kill_9_of_the_runner_crashes_its_run_and_a_new_runner_serves(
    server_factory: Any, spawn: Any
) -> None:
    fast = {"INLOOP_HEARTBEAT_INTERVAL_SECONDS": "0.2", "INLOOP_HEARTBEAT_GRACE_SECONDS": "2"}
    server_factory(activate=True, **fast)
    runner = serve_hello(spawn, "kill", env=fast)
    run = run_deployment("hello/kill", {"name": "doomed", "mode": "sleep"}, timeout=0)
    wait_for(lambda: state_of(run.id) is StateType.RUNNING)
    runner.send(signal.SIGKILL)
    crashed = final(run.id, timeout=20)
    assert crashed.state.type is StateType.CRASHED
    assert "runner executing this flow run exited" in (crashed.state.message or "")

    # The machine is lost (runner and run processes at once): the server notices the silence.
    runner2 = serve_hello(spawn, "kill", env=fast)
    run2 = run_deployment("hello/kill", {"name": "doomed2", "mode": "sleep"}, timeout=0)
    wait_for(lambda: state_of(run2.id) is StateType.RUNNING)
    kill_runner_and_runs(runner2.pid)
    crashed2 = final(run2.id, timeout=20)
    assert crashed2.state.type is StateType.CRASHED
    assert "stopped answering" in (crashed2.state.message or "")

    serve_hello(spawn, "kill", env=fast)
    assert run_deployment("hello/kill", {"name": "fine"}).state.type is StateType.COMPLETED


def test_cli_deployment_run_reaches_the_runner(server: Any, spawn: Any) -> None:
    runner = serve_hello(spawn, "cli")
    result = subprocess.run(
        [sys.executable, "-m", "inloop", "deployment", "run", "hello/cli", "--param", "name=cli"],
        env={**os.environ, **server.env},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    runner.wait_for_output("hello cli!")
