"""pause_flow_run from every place a flow can call it, and the flow is woken by the resume.

With the default poll_interval (10 s), a resume must reach the flow within a fraction of that:
the server wakes the waiting process, nobody polls. (A correctness check of the wake channel,
loosely timed; bench/pause_resume.py measures the latency.)
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

FLOWS_DIR = Path(__file__).resolve().parents[1] / "flows"
FLOWS = FLOWS_DIR / "wake_flows.py"


@pytest.mark.parametrize(
    "flow_fn",
    ["wake_sync", "wake_async", "wake_nested", "wake_async_nested", "wake_task",
     "wake_async_task", "wake_no_input"],
)
def test_a_resume_wakes_the_paused_flow_at_once(
    api, run_flow_script: Callable[..., Any], wait_for: Callable[..., Any], flow_fn: str
) -> None:
    flow_name = flow_fn.replace("_", "-")
    before = {r["id"] for r in api.get("/flow_runs", params={"flow_name": flow_name}).json()}
    process = run_flow_script(FLOWS, flow_fn)

    def paused() -> dict[str, Any] | None:
        for run in api.get("/flow_runs", params={"flow_name": flow_name}).json():
            if run["id"] not in before and run["state"]["type"] == "PAUSED":
                return dict(run)
        assert process.poll() is None, process.communicate()
        return None

    run = wait_for(paused)
    key = run["pause"]["key"]
    if flow_fn.endswith("_task"):
        # Inside a task the key names the task call, so a run executed again that reuses the
        # task's stored result does not shift the flow's own pause keys.
        assert key.startswith("paused-ask-name-in-") and key.endswith("-1"), key
    else:
        assert key == "paused-1"
    # Let the flow settle into its wait (a long-poll on the server).
    time.sleep(0.3)
    run_input = None if flow_fn == "wake_no_input" else {"value": "andrew"}
    sent = time.time()
    response = api.post(f"/flow_runs/{run['id']}/resume", json={"run_input": run_input})
    assert response.status_code == 200, response.text
    out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    woke_at = float(re.search(r"WOKE (\d+\.\d+)", out).group(1))  # type: ignore[union-attr]
    assert woke_at - sent < 2.0, f"the flow woke {woke_at - sent:.2f} s after the resume"
    name = "nobody" if flow_fn == "wake_no_input" else "andrew"
    if flow_fn == "wake_no_input":
        assert "returned None" in out

    def hello() -> bool:
        logs = api.get(f"/flow_runs/{run['id']}/logs").json()
        return f"Hello, {name}!" in [r["message"] for r in logs]

    wait_for(hello)
    assert api.get(f"/flow_runs/{run['id']}").json()["state"]["type"] == "COMPLETED"


RESTART_FLOW = FLOWS_DIR / "outlives_restart.py"


def test_a_paused_flow_outlives_a_server_restart(
    fresh_server, run_flow_script: Callable[..., Any], wait_for: Callable[..., Any]
) -> None:
    """The wake channel drops while the server restarts; poll_interval paces the reconnects."""
    with httpx.Client(base_url=fresh_server.api_url, timeout=10) as api:
        process = run_flow_script(RESTART_FLOW)

        def paused() -> dict[str, Any] | None:
            found = api.get("/flow_runs", params={"state": "PAUSED"}).json()
            assert process.poll() is None, process.communicate()
            return dict(found[0]) if found else None

        run = wait_for(paused)
        fresh_server.restart()
        assert process.poll() is None
        time.sleep(0.5)
        response = api.post(
            f"/flow_runs/{run['id']}/resume", json={"run_input": {"value": "andrew"}}
        )
        assert response.status_code == 200, response.text
        _, err = process.communicate(timeout=20)
        assert process.returncode == 0, err
        logs = api.get(f"/flow_runs/{run['id']}/logs").json()
        assert "Hello, andrew!" in [r["message"] for r in logs]
        assert api.get(f"/flow_runs/{run['id']}").json()["state"]["type"] == "COMPLETED"
