"""Suspensions as the reference's users write them, with runners as subprocesses (issue 10):
a run suspended from outside stops at its next task, and the seed's suspend-after-idle loop
suspends again after each resume."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inloop.client import get_client
from inloop.deployments import run_deployment
from inloop.flow_runs import resume_flow_run, suspend_flow_run
from inloop.input.run_input import send_input
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
from inloop.blocks.system import JSON
from inloop.context import get_run_context
from inloop.flow_runs import suspend_flow_run
from inloop.input.run_input import receive_input


@task
def shout(word: str) -> str:
    print(f"shouted {word}", flush=True)
    return word.upper()


@flow
def shouter():
    print("started", flush=True)
    for word in receive_input(str, timeout=None):
        if word == "stop":
            return
        shout(word)


# The seed's suspend-after-idle example, with a 1 s idle period and prints for the test.
@flow
async def idler():
    block_name = f"{get_run_context().flow_run.id}-seen-ids"
    try:
        seen_keys_block = await JSON.load(block_name)
    except ValueError:
        seen_keys_block = JSON(value=[])
    print("listening", flush=True)
    try:
        async for name_input in receive_input(
            str, with_metadata=True, poll_interval=0.1, timeout=1,
            exclude_keys=seen_keys_block.value,
        ):
            if name_input.value == "__EXIT__":
                print("Goodbye!", flush=True)
                return
            print(f"Hello, {name_input.value}!", flush=True)
            seen_keys_block.value.append(name_input.metadata.key)
            await seen_keys_block.save(name=block_name, overwrite=True)
    except TimeoutError:
        print("idle, suspending", flush=True)
        await suspend_flow_run(timeout=10000)


@flow
def gate():
    print("before gate", flush=True)
    suspend_flow_run(timeout=600)
    print("after gate", flush=True)


if __name__ == "__main__":
    import sys
    flows = {"shouter": shouter, "idler": idler, "gate": gate}
    flows[sys.argv[1]].serve(name="parity")
'''


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
