"""`inloop events`, run as a subprocess against a real server."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from tests.e2e.processes import cli
from tests.waiting import wait_for


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

            def read() -> None:
                for ln in stdout:
                    lines.put(ln)

            reader = threading.Thread(target=read, daemon=True)
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


def test_export_writes_every_event_in_order_as_jsonl_or_csv(server: Any, tmp_path: Path) -> None:
    run = cancelled_run(server, "exporter")
    target = tmp_path / "events.jsonl"
    # Pages of 2, so the export walks many pages and says how far it got.
    result = cli(server, "events", "export", "--output", str(target), "--page", "2")
    assert result.returncode == 0, result.stderr
    exported = [json.loads(line) for line in target.read_text().splitlines()]
    ids = [event["id"] for event in exported]
    assert ids == sorted(set(ids)) and len(ids) > 4
    assert f"Exported {len(ids)} events to {target}." in result.stderr
    assert f"{len(ids) - len(ids) % 2} events so far (up to id" in result.stderr
    mine = [e for e in exported if e["flow_run_id"] == run["id"]]
    assert [e["kind"] for e in mine] == [
        "flow-run.created", "flow-run.running", "flow-run.cancelled",
    ]
    assert mine[-1]["actor"] == "local:exporter" and mine[-1]["flow_run_name"] == run["name"]

    as_csv = cli(server, "events", "export", "--format", "csv", "--since", "10m")
    assert as_csv.returncode == 0, as_csv.stderr
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert list(rows[0]) == [
        "id", "occurred", "kind", "actor", "flow_run_id", "flow_run_name", "remote", "details",
    ]
    cancelled = next(r for r in rows if r["flow_run_id"] == run["id"] and "cancel" in r["kind"])
    assert json.loads(cancelled["details"]) == mine[-1]["details"]

    none = cli(server, "events", "export", "--since", "2999-01-01T00:00:00")
    assert none.returncode == 0 and none.stdout == ""
    assert "Exported 0 events." in none.stderr


def _backdate(info: Any, flow_run_id: str) -> None:
    """Make one run's events look years old, behind the server's back."""
    url = info.database_url or f"sqlite+aiosqlite:///{info.home / 'inloop.db'}"

    async def run() -> None:
        engine = create_async_engine(url)
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "UPDATE events SET occurred = '2000-01-01 00:00:00' WHERE flow_run_id = :id"
                ),
                {"id": flow_run_id},
            )
        await engine.dispose()

    asyncio.run(run())


def test_the_server_deletes_events_older_than_keep_days(
    server_factory: Callable[..., Any],
) -> None:
    info = server_factory(INLOOP_EVENTS_KEEP_DAYS="1", INLOOP_EVENTS_PRUNE_SECONDS="0.2")
    old, recent = cancelled_run(info, "old"), cancelled_run(info, "recent")
    _backdate(info, old["id"])
    with httpx.Client(base_url=info.api_url, timeout=30) as http:

        def pruned() -> bool:
            return not http.get("/events", params={"flow_run_id": old["id"]}).json()

        wait_for(pruned)
        kept = http.get("/events", params={"flow_run_id": recent["id"]}).json()
    assert [e["kind"] for e in kept] == [
        "flow-run.created", "flow-run.running", "flow-run.cancelled",
    ]
