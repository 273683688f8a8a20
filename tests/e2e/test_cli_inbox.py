"""`inloop inbox`: every paused or suspended run waiting for a person, oldest first."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import httpx


def api(server: Any) -> httpx.Client:
    headers = {"authorization": f"Bearer {server.api_key}"} if server.api_key else {}
    return httpx.Client(base_url=server.api_url, headers=headers, timeout=30)


def inbox(server: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inloop", "inbox", *args],
        env={**os.environ, **server.env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def pause(http: httpx.Client, run_id: str, description: str | None, **extra: Any) -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    body = {"key": "paused-1", "schema": schema, "description": description, **extra}
    response = http.post(f"/flow_runs/{run_id}/pause", json=body)
    assert response.status_code == 200, response.text


def test_empty_inbox_says_so(fresh_server: Any) -> None:
    result = inbox(fresh_server)
    assert result.returncode == 0, result.stderr
    assert "Nothing is waiting for you" in result.stdout


def test_inbox_lists_waiting_runs_oldest_first(server: Any) -> None:
    with api(server) as http:
        first = http.post("/flow_runs", json={"flow_name": "inbox-a", "state": "RUNNING"}).json()
        pause(http, first["id"], "# Approve the refund\n\nThe customer wants **$20** back.")
        busy = http.post("/flow_runs", json={"flow_name": "inbox-b", "state": "RUNNING"}).json()

        # A suspended run needs a deployment: schedule one, claim it as a runner would.
        deployment = http.post(
            "/deployments",
            json={"flow_name": "inbox-c", "name": "nightly", "entrypoint": "flows.py:nightly"},
        ).json()
        scheduled = http.post("/deployments/name/inbox-c/nightly/run", json={}).json()
        claimed = http.post(
            "/runners/claim", json={"deployment_ids": [deployment["id"]], "runner_id": "test"}
        ).json()
        assert claimed["id"] == scheduled["id"]
        running = http.post(f"/flow_runs/{claimed['id']}/set_state", json={"type": "RUNNING"})
        assert running.status_code == 200, running.text
        pause(http, claimed["id"], "Pick a size", reschedule=True, timeout=None)

    result = inbox(server)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    header = out.splitlines()[0]
    for column in ("Flow", "Run", "ID", "Waiting since", "Deadline", "Asks", "Resume with"):
        assert column in header
    assert busy["id"] not in out

    rows = [line for line in out.splitlines() if first["id"] in line or claimed["id"] in line]
    assert len(rows) == 2
    refund, nightly = rows
    assert first["id"] in refund, "oldest first"
    assert "inbox-a" in refund and first["name"] in refund
    assert "Paused" in refund
    assert "Approve the refund" in refund and "#" not in refund
    assert "in 59m" in refund or "in 1h" in refund  # deadline of a one-hour pause
    assert "just now" in refund or "s ago" in refund
    assert f"inloop flow-run resume {first['id']}" in refund

    assert "inbox-c" in nightly and "Suspended" in nightly
    assert "Pick a size" in nightly
    assert "none" in nightly  # no deadline
    assert f"inloop flow-run resume {claimed['id']}" in nightly

    limited = inbox(server, "--limit", "1").stdout
    assert first["id"] in limited and claimed["id"] not in limited


def test_a_pause_that_takes_its_defaults_says_so_beside_its_deadline(server: Any) -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean", "default": False}}}
    with api(server) as http:
        run = http.post("/flow_runs", json={"flow_name": "inbox-d", "state": "RUNNING"}).json()
        paused = http.post(f"/flow_runs/{run['id']}/pause", json={
            "key": "paused-1", "schema": schema, "timeout": 3600, "on_timeout": "defaults"})
        assert paused.status_code == 200, paused.text
        plain = http.post("/flow_runs", json={"flow_name": "inbox-e", "state": "RUNNING"}).json()
        pause(http, plain["id"], "Fails at its deadline")
    out = inbox(server).stdout
    [row] = [line for line in out.splitlines() if run["id"] in line]
    assert "then defaults" in row
    [other] = [line for line in out.splitlines() if plain["id"] in line]
    assert "then defaults" not in other
