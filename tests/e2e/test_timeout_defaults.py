"""on_timeout="defaults" end to end: a live pause and a suspended run (no process alive) are each
resumed by the server with the input's defaults at the deadline, also across a server restart;
a pause whose input lacks a default fails at the call, naming the field."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from inloop.client import get_client
from inloop.deployments import run_deployment
from inloop.schemas import StateType
from tests.waiting import wait_for

FLOWS_DIR = Path(__file__).resolve().parents[1] / "flows"
FLOWS = FLOWS_DIR / "timeout_default_flows.py"


def serve(spawn: Any, which: str) -> Any:
    runner = spawn(FLOWS, which)
    runner.wait_for_output("is being served")
    return runner


def read(run_id: Any) -> Any:
    return get_client().read_flow_run(run_id)


def wait_state(run_id: Any, state: StateType, timeout: float = 60) -> Any:
    return wait_for(lambda: (run := read(run_id)).state.type is state and run, timeout)


def resumed_by_timeout(run_id: Any) -> None:
    events = get_client().read_events(flow_run_id=run_id, kind="flow-run.resumed")
    assert [e.actor for e in events] == ["timeout"]
    history = get_client().read_flow_run_states(run_id)
    resumed = [s for s in history if s.details.get("resumed_by")]
    assert [s.details["resumed_by"] for s in resumed] == ["timeout"]
    assert "resumed with its defaults" in (resumed[0].message or "")


def test_a_live_pause_is_resumed_with_its_defaults_at_the_deadline(
    server: Any, spawn: Any
) -> None:
    runner = serve(spawn, "live")
    run = run_deployment("live/defaults", timeout=0)
    wait_state(run.id, StateType.COMPLETED)
    runner.wait_for_output("live answer approved=False note=no answer in time")
    types = [s.type for s in get_client().read_flow_run_states(run.id)]
    assert types[-3:] == [StateType.PAUSED, StateType.RUNNING, StateType.COMPLETED]
    resumed_by_timeout(run.id)
    assert runner.stop() == 0
    assert "Traceback" not in runner.output


def test_a_suspended_run_is_resumed_by_the_server_and_executed_again(
    server: Any, spawn: Any
) -> None:
    runner = serve(spawn, "away")
    run = run_deployment("away/defaults", timeout=0)
    wait_state(run.id, StateType.COMPLETED)
    runner.wait_for_output("away answer approved=False note=no answer in time")
    assert runner.stdout.count("asking") == 2  # the process ended; the run ran again
    types = [s.type for s in get_client().read_flow_run_states(run.id)]
    assert types[-5:] == [StateType.SUSPENDED, StateType.SCHEDULED, StateType.PENDING,
                          StateType.RUNNING, StateType.COMPLETED]
    resumed_by_timeout(run.id)
    assert runner.stop() == 0


def test_an_input_without_defaults_fails_at_the_pause_call_naming_the_field(
    server: Any, spawn: Any
) -> None:
    runner = serve(spawn, "missing")
    run = run_deployment("missing/defaults", timeout=0)
    failed = wait_state(run.id, StateType.FAILED)
    assert "Person has no default for 'name'" in (failed.state.message or "")
    types = [s.type for s in get_client().read_flow_run_states(run.id)]
    assert StateType.PAUSED not in types
    assert runner.stop() == 0


def test_the_deadline_survives_a_server_restart(fresh_server: Any, spawn: Any) -> None:
    runner = serve(spawn, "away")
    run = run_deployment("away/defaults", {"timeout": 2}, timeout=0)
    suspended = wait_state(run.id, StateType.SUSPENDED)
    assert runner.stop() == 0  # nothing is left alive for this run
    fresh_server.stop()
    # The deadline passes while no server runs: only the stored deadline can resume it.
    wait_for(lambda: datetime.now(UTC) > suspended.pause.deadline, 30)
    fresh_server.start()

    scheduled = wait_state(run.id, StateType.SCHEDULED)
    assert scheduled.state.details["resumed_by"] == "timeout"
    runner = serve(spawn, "away")
    wait_state(run.id, StateType.COMPLETED)
    runner.wait_for_output("away answer approved=False note=no answer in time")
    resumed_by_timeout(run.id)
    assert runner.stop() == 0
