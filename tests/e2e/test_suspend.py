"""suspend_flow_run end to end: the process ends, a resume re-executes the run on a runner."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from inloop.client import InloopAPIError, get_client
from inloop.deployments import run_deployment
from inloop.flow_runs import resume_flow_run, suspend_flow_run
from inloop.input.run_input import send_input
from inloop.schemas import StateType
from tests.waiting import wait_for

FLOWS_DIR = Path(__file__).resolve().parents[1] / "flows"
APPROVAL = FLOWS_DIR / "suspend_flows.py"


def serve(spawn: Any, which: str = "approval", **kwargs: Any) -> Any:
    runner = spawn(APPROVAL, which, **kwargs)
    runner.wait_for_output("is being served")
    return runner


def read(run_id: Any) -> Any:
    return get_client().read_flow_run(run_id)


def wait_state(run_id: Any, state: StateType, timeout: float = 20) -> Any:
    return wait_for(lambda: (run := read(run_id)).state.type is state and run, timeout)


def test_suspend_ends_the_process_and_a_resume_reexecutes_the_same_run(
    server: Any, spawn: Any
) -> None:
    runner = serve(spawn)
    run = run_deployment("approval/suspend", {"amount": 120}, timeout=0)
    suspended = wait_state(run.id, StateType.SUSPENDED)
    assert suspended.pause is not None and suspended.pause.key == "suspended-1"
    runner.wait_for_output("exited cleanly (Suspended)")
    assert "Traceback" not in runner.output

    with pytest.raises(InloopAPIError) as caught:
        resume_flow_run(run.id, {"value": "not a bool"})
    assert caught.value.status_code == 422
    assert read(run.id).state.type is StateType.SUSPENDED

    resumed = resume_flow_run(run.id, {"value": True})
    assert resumed.state.type is StateType.SCHEDULED
    done = wait_state(run.id, StateType.COMPLETED)
    assert done.id == run.id
    runner.wait_for_output("approved=True")
    assert runner.stdout.count("asking about 120") == 2  # executed again from the top
    history = [s.type for s in get_client().read_flow_run_states(run.id)]
    assert history[-5:] == [
        StateType.SUSPENDED,
        StateType.SCHEDULED,
        StateType.PENDING,
        StateType.RUNNING,
        StateType.COMPLETED,
    ]
    assert runner.stop() == 0
    assert "Traceback" not in runner.output


def test_suspending_a_run_without_deployment_says_why(server: Any, spawn: Any) -> None:
    script = spawn('''
from inloop import flow
from inloop.flow_runs import suspend_flow_run


@flow
def local():
    suspend_flow_run()


local()
''')
    assert script.wait() != 0
    assert "has no deployment, so nothing could run it again after a suspension" in script.stderr


def test_suspending_another_run_stops_its_process(server: Any, spawn: Any) -> None:
    runner = serve(spawn, "listener")
    run = run_deployment("listener/suspend", timeout=0)
    wait_state(run.id, StateType.RUNNING)
    send_input("one", flow_run_id=run.id)
    runner.wait_for_output("heard one")

    assert suspend_flow_run(flow_run_id=run.id) is None
    assert read(run.id).state.type is StateType.SUSPENDED
    runner.wait_for_output("is Suspended; stopping its process")
    runner.wait_for_output("exited with code -15 after it was suspended")

    resume_flow_run(run.id)
    wait_state(run.id, StateType.RUNNING)
    send_input("stop", flow_run_id=run.id)
    wait_state(run.id, StateType.COMPLETED)
    assert runner.stop() == 0


def test_suspending_a_paused_run_stops_it_at_once_and_cleanly(server: Any, spawn: Any) -> None:
    runner = serve(spawn, "pauser")
    run = run_deployment("pauser/suspend", timeout=0)
    wait_state(run.id, StateType.PAUSED)
    suspend_flow_run(flow_run_id=run.id)
    runner.wait_for_output("exited cleanly (Suspended)", timeout=4)  # at its check point
    assert "Traceback" not in runner.output

    resume_flow_run(run.id)
    wait_state(run.id, StateType.PAUSED)  # executed again from the top, paused again
    resume_flow_run(run.id, {"value": "yes"})
    wait_state(run.id, StateType.COMPLETED)
    runner.wait_for_output("answer yes")
    assert runner.stdout.count("pausing") == 2


def test_a_resume_without_a_runner_waits_scheduled_until_one_comes(
    server: Any, spawn: Any
) -> None:
    runner = serve(spawn)
    run = run_deployment("approval/suspend", {"amount": 7}, timeout=0)
    wait_state(run.id, StateType.SUSPENDED)
    assert runner.stop(signal.SIGTERM) == 0

    assert resume_flow_run(run.id, {"value": False}).state.type is StateType.SCHEDULED
    inbox_or_list = get_client().read_flow_runs(state=StateType.SCHEDULED, flow_name="approval")
    assert run.id in [r.id for r in inbox_or_list]

    runner = serve(spawn)
    wait_state(run.id, StateType.COMPLETED)
    runner.wait_for_output("approved=False")


def test_suspended_runs_survive_a_server_restart(fresh_server: Any, spawn: Any) -> None:
    runner = serve(spawn)
    runs = [run_deployment("approval/suspend", {"amount": n}, timeout=0) for n in (1, 2)]
    for run in runs:
        wait_state(run.id, StateType.SUSPENDED)

    fresh_server.restart()

    for run in runs:
        assert read(run.id).state.type is StateType.SUSPENDED
        resume_flow_run(run.id, {"value": True})
    for run in runs:
        done = wait_state(run.id, StateType.COMPLETED, timeout=30)
        assert done.parameters["amount"] in (1, 2)
    runner.wait_for_output("approved=True")
    assert runner.stdout.count("approved=True") == 2
    assert runner.stop() == 0
