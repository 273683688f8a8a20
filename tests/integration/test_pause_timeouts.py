"""A pause that nobody answers: the flow fails in time, or the server fails it if its process died,
and a resume that comes too late is refused with a reason."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

FLOWS_DIR = Path(__file__).resolve().parents[1] / "flows"
PAUSE_WITH_TIMEOUT = FLOWS_DIR / "waits_briefly.py"


def start_paused(
    api: httpx.Client,
    run_flow_script: Callable[..., Any],
    wait_for: Callable[..., Any],
    timeout: float,
) -> tuple[Any, dict[str, Any]]:
    before = {r["id"] for r in api.get("/flow_runs", params={"flow_name": "waits-briefly"}).json()}
    process = run_flow_script(PAUSE_WITH_TIMEOUT, str(timeout))

    def paused() -> dict[str, Any] | None:
        for run in api.get("/flow_runs", params={"flow_name": "waits-briefly"}).json():
            if run["id"] not in before and run["state"]["type"] == "PAUSED":
                return dict(run)
        assert process.poll() is None, process.communicate()
        return None

    return process, wait_for(paused)


def test_a_pause_that_times_out_fails_the_flow_saying_after_how_long(
    api, run_flow_script, wait_for
) -> None:
    process, run = start_paused(api, run_flow_script, wait_for, timeout=1)
    paused_at = time.monotonic()
    _, err = process.communicate(timeout=20)
    waited = time.monotonic() - paused_at
    assert process.returncode == 1, err
    # Woken at the deadline, not at the next 10 s poll.
    assert waited < 5, waited
    state = api.get(f"/flow_runs/{run['id']}").json()["state"]
    assert state["type"] == "FAILED"
    assert "paused at 'paused-1' timed out after 1 s without being resumed" in state["message"]
    assert "timed out after 1 s" in err
    late = api.post(f"/flow_runs/{run['id']}/resume", json={"run_input": {"value": 1}})
    assert late.status_code == 409
    assert "(state: Failed)" in late.json()["detail"]


def test_the_server_fails_a_paused_run_whose_process_died_once_its_deadline_passes(
    api, run_flow_script, wait_for
) -> None:
    process, run = start_paused(api, run_flow_script, wait_for, timeout=2)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    deadline = datetime.fromisoformat(run["pause"]["deadline"])
    assert api.get(f"/flow_runs/{run['id']}").json()["state"]["type"] == "PAUSED"

    # Past the deadline: a resume is refused with the reason, even before the server's
    # reaper (which allows a little grace) has failed the run.
    wait_for(lambda: datetime.now(UTC) > deadline, interval=0.02)
    late = api.post(f"/flow_runs/{run['id']}/resume", json={"run_input": {"value": 1}})
    assert late.status_code == 409
    assert "timed out" in late.json()["detail"]

    def failed() -> dict[str, Any] | None:
        state = api.get(f"/flow_runs/{run['id']}").json()["state"]
        return dict(state) if state["type"] != "PAUSED" else None

    state = wait_for(failed, timeout=15)
    # The deadline comes long before heartbeat-based crash detection would.
    assert state["type"] == "FAILED", state
    assert state["message"] == (
        "flow run paused at 'paused-1' timed out after 2 s without being resumed"
    )
    again = api.post(f"/flow_runs/{run['id']}/resume", json={"run_input": {"value": 1}})
    assert again.status_code == 409
    assert "(state: Failed)" in again.json()["detail"]
    assert api.get(f"/flow_runs/{run['id']}/input/paused-1-response").status_code == 404
