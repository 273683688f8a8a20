"""pause_flow_run and suspend_flow_run inside a @task pause the task's flow run: in sync and async
tasks, in sync and async flows, and with keys that stay put when a re-executed run reuses the
task's stored result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inloop.client import get_client
from inloop.deployments import run_deployment
from inloop.flow_runs import resume_flow_run
from inloop.schemas import StateType
from tests.waiting import wait_for

FLOWS_DIR = Path(__file__).resolve().parents[1] / "flows"
FLOWS = FLOWS_DIR / "task_pause_flows.py"


def serve(spawn: Any, which: str) -> Any:
    runner = spawn(FLOWS, which)
    runner.wait_for_output("is being served")
    return runner


def waiting_at(run_id: Any, state: StateType, key_start: str) -> str:
    client = get_client()
    run = wait_for(lambda: (r := client.read_flow_run(run_id)).state.type is state
                   and r.pause is not None and r.pause.key.startswith(key_start) and r, 60)
    assert run.pause is not None
    return str(run.pause.key)


def test_tasks_in_a_sync_flow_pause_and_suspend_its_run(server: Any, spawn: Any) -> None:
    runner = serve(spawn, "sync")
    run = run_deployment("sync-flow/task-pauses", timeout=0)

    waiting_at(run.id, StateType.PAUSED, "paused-approve-1-")
    resume_flow_run(run.id, {"approved": True})
    waiting_at(run.id, StateType.SUSPENDED, "suspended-gate-1-")
    resume_flow_run(run.id, {"value": False})
    # Executed again: approve's stored result is reused (no pause), gate finds its answer, and
    # the flow's own first pause is paused-1, not the answer the task got before.
    waiting_at(run.id, StateType.PAUSED, "paused-1")
    resume_flow_run(run.id, {"value": "done"})
    wait_for(lambda: get_client().read_flow_run(run.id).state.type is StateType.COMPLETED, 60)
    runner.wait_for_output("sync result True False done")
    assert runner.stdout.count("asking about 1") == 1
    assert runner.stdout.count("gate 2") == 2
    assert runner.stop() == 0
    assert "Traceback" not in runner.output


def test_async_and_sync_tasks_in_an_async_flow_pause_its_run(server: Any, spawn: Any) -> None:
    runner = serve(spawn, "async")
    run = run_deployment("async-flow/task-pauses", timeout=0)

    first = waiting_at(run.id, StateType.PAUSED, "paused-approve-async-1-")
    resume_flow_run(run.id, {"approved": True})
    second = waiting_at(run.id, StateType.PAUSED, "paused-approve-1-")
    assert second != first
    resume_flow_run(run.id, {"approved": False})
    wait_for(lambda: get_client().read_flow_run(run.id).state.type is StateType.COMPLETED, 60)
    runner.wait_for_output("async result True False")
    assert runner.stop() == 0
    assert "Traceback" not in runner.output
