"""`inloop events`, run as a subprocess against a real server."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from typing import Any

import httpx
from processes import cli


def cancelled_run(server: Any, who: str) -> dict[str, Any]:
    with httpx.Client(base_url=server.api_url, timeout=30) as http:
        run = http.post("/flow_runs", json={"flow_name": "cli-events", "state": "RUNNING"}).json()
        http.post(f"/flow_runs/{run['id']}/cancel", headers={"x-inloop-actor": who})
    return dict(run)


def test_events_prints_a_runs_events_with_actor_and_detail(server: Any) -> None:
    run = cancelled_run(server, "dora")
    result = cli(server, "events", "--run", run["name"])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["Time", "Kind", "Actor", "Run", "Detail"]
    assert [line.split()[2] for line in lines[1:]] == [
        "flow-run.created",
        "flow-run.running",
        "flow-run.cancelled",
    ]
    cancelled = lines[-1]
    assert "local:dora" in cancelled
    assert f"{run['name']} ({run['id'][:8]})" in cancelled
    assert "running → cancelled" in cancelled
    assert "cancelled by local:dora" in cancelled


def test_events_filters_by_kind_actor_and_time(server: Any) -> None:
    cancelled_run(server, "filter-me")
    result = cli(
        server, "events", "--kind", "flow-run.cancelled", "--actor", "local:filter-me",
        "--since", "10m",
    )
    assert result.returncode == 0, result.stderr
    rows = result.stdout.splitlines()[1:]
    assert len(rows) == 1
    assert "flow-run.cancelled" in rows[0]
    future = cli(server, "events", "--since", "2999-01-01T00:00:00")
    assert future.returncode == 0
    assert "No events match." in future.stdout


def test_a_bad_since_is_one_line_naming_it(server: Any) -> None:
    result = cli(server, "events", "--since", "last tuesday")
    assert result.returncode == 1
    assert "--since 'last tuesday'" in result.stderr
    assert "Traceback" not in result.stderr


def test_follow_prints_new_events_as_they_happen(server: Any) -> None:
    with httpx.Client(base_url=server.api_url, timeout=30) as http:
        run = http.post("/flow_runs", json={"flow_name": "cli-follow", "state": "RUNNING"}).json()
        with subprocess.Popen(
            [sys.executable, "-m", "inloop", "events", "--follow", "--run", run["id"]],
            env={**os.environ, **server.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            text=True,
        ) as process:
            lines: queue.Queue[str] = queue.Queue()
            stdout = process.stdout
            assert stdout is not None
            reader = threading.Thread(target=lambda: [lines.put(ln) for ln in stdout], daemon=True)
            reader.start()

            def next_line_with(text: str) -> str:
                while True:
                    line = lines.get(timeout=60)
                    if text in line:
                        return line

            try:
                next_line_with("flow-run.running")  # the history so far, then it waits
                http.post(f"/flow_runs/{run['id']}/cancel", headers={"x-inloop-actor": "late"})
                assert "local:late" in next_line_with("flow-run.cancelled")
            finally:
                process.terminate()
                process.wait(timeout=30)
                reader.join(timeout=30)
