"""Suspensions as the reference's users write them, with runners as subprocesses (issue 10):
a run suspended from outside stops at its next task, and the seed's suspend-after-idle loop
suspends again after each resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inloop.client import get_client
from inloop.deployments import run_deployment
from inloop.flow_runs import resume_flow_run, suspend_flow_run
from inloop.input.run_input import send_input
from inloop.schemas import StateType
from tests.waiting import wait_for

FLOWS_DIR = Path(__file__).resolve().parents[1] / "flows"
FLOWS = FLOWS_DIR / "parity_suspend_flows.py"


def serve(spawn: Any, which: str) -> Any:
    runner = spawn(FLOWS, which)
    runner.wait_for_output("is being served")
    return runner


def read(run_id: Any) -> Any:
    return get_client().read_flow_run(run_id)


def wait_state(run_id: Any, state: StateType, timeout: float = 30) -> Any:
    return wait_for(lambda: (run := read(run_id)).state.type is state and run, timeout)


def test_a_run_suspended_from_outside_stops_at_its_next_task_each_time(
    server: Any, spawn: Any
) -> None:
    runner = serve(spawn, "shouter")
    run = run_deployment("shouter/parity", timeout=0)
    wait_state(run.id, StateType.RUNNING)
    runner.wait_for_output("started")

    # Suspended while it waits for input; the next input leads it to a task, where it stops.
    suspend_flow_run(flow_run_id=run.id)
    send_input("a", flow_run_id=run.id)
    runner.wait_for_output("stopping before task 'shout-1-")
    runner.wait_for_output("exited cleanly (Suspended)")
    assert "shouted a" not in runner.output
    assert read(run.id).state.type is StateType.SUSPENDED

    resume_flow_run(run.id)
    runner.wait_for_output("shouted a")  # executed again: the task runs this time
    wait_state(run.id, StateType.RUNNING)

    # A second suspension from outside, after the resume, works the same way.
    suspend_flow_run(flow_run_id=run.id)
    send_input("b", flow_run_id=run.id)
    wait_for(lambda: runner.output.count("exited cleanly (Suspended)") == 2)
    assert "shouted b" not in runner.output

    resume_flow_run(run.id)
    runner.wait_for_output("shouted b")
    send_input("stop", flow_run_id=run.id)
    wait_state(run.id, StateType.COMPLETED)
    assert runner.output.count("shouted a") == 1  # its stored result was reused
    assert runner.output.count("shouted b") == 1
    keys = [s.details.get("pause_key") for s in get_client().read_flow_run_states(run.id)
            if s.type is StateType.SUSPENDED]
    assert len(keys) == 2 and len(set(keys)) == 2
    assert runner.stop() == 0


def test_the_seed_idle_loop_suspends_again_after_each_resume(server: Any, spawn: Any) -> None:
    runner = serve(spawn, "idler")
    run = run_deployment("idler/parity", timeout=0)
    first = wait_state(run.id, StateType.SUSPENDED)
    assert first.pause.key == "suspended-1"

    resume_flow_run(run.id)
    second = wait_for(lambda: (r := read(run.id)).state.type is StateType.SUSPENDED
                      and r.pause.key != "suspended-1" and r, 30)
    assert second.pause.key == "suspended-2"  # a new suspension, not the old answer
    assert runner.output.count("idle, suspending") == 2

    send_input("ada", flow_run_id=run.id)
    resume_flow_run(run.id)
    runner.wait_for_output("Hello, ada!")
    wait_for(lambda: (r := read(run.id)).state.type is StateType.SUSPENDED
             and r.pause.key == "suspended-3", 30)

    send_input("__EXIT__", flow_run_id=run.id)
    resume_flow_run(run.id)
    wait_state(run.id, StateType.COMPLETED)
    runner.wait_for_output("Goodbye!")
    assert runner.output.count("Hello, ada!") == 1  # seen keys were excluded afterwards
    assert runner.stop() == 0


def test_a_suspension_without_idle_before_it_is_passed_once_resumed(
    server: Any, spawn: Any
) -> None:
    runner = serve(spawn, "gate")
    run = run_deployment("gate/parity", timeout=0)
    wait_state(run.id, StateType.SUSPENDED)
    resume_flow_run(run.id)
    wait_state(run.id, StateType.COMPLETED)
    runner.wait_for_output("after gate")
    assert runner.output.count("before gate") == 2
    assert runner.stop() == 0
