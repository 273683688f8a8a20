"""pause_flow_run and suspend_flow_run inside a @task pause the task's flow run: in sync and async
tasks, in sync and async flows, and with keys that stay put when a re-executed run reuses the
task's stored result."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inloop.client import get_client
from inloop.deployments import run_deployment
from inloop.flow_runs import resume_flow_run
from inloop.schemas import StateType
from tests.e2e.processes import Spawner
from tests.waiting import wait_for


@pytest.fixture
def spawn(server: Any, tmp_path: Path) -> Iterator[Spawner]:
    spawner = Spawner(tmp_path)
    yield spawner
    spawner.close()


FLOWS = '''
from inloop import flow, task
from inloop.flow_runs import pause_flow_run, suspend_flow_run
from inloop.input import RunInput


class Approval(RunInput):
    approved: bool


@task
def approve(amount: int) -> bool:
    print(f"asking about {amount}", flush=True)
    return pause_flow_run(wait_for_input=Approval, timeout=600).approved


@task
async def approve_async(amount: int) -> bool:
    print(f"async asking about {amount}", flush=True)
    answer = await pause_flow_run(wait_for_input=Approval, timeout=600)
    return answer.approved


@task
def gate(amount: int) -> bool:
    print(f"gate {amount}", flush=True)
    return suspend_flow_run(wait_for_input=bool, timeout=600)


@flow
def sync_flow():
    first = approve(1)
    second = gate(2)
    third = pause_flow_run(wait_for_input=str, timeout=600)
    print(f"sync result {first} {second} {third}", flush=True)


@flow
async def async_flow():
    first = await approve_async(1)
    second = approve(2)  # a sync task inside an async flow
    print(f"async result {first} {second}", flush=True)


if __name__ == "__main__":
    import sys
    flows = {"sync": sync_flow, "async": async_flow}
    flows[sys.argv[1]].serve(name="task-pauses")
'''


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
