"""Automation delivery: pause -> webhook received latency, and a burst of pauses drained.

Starts its own server (SQLite in a temp home, or INLOOP_DATABASE_URL's database), writes one
automation (webhook on flow-run.paused) into its database, and runs a local HTTP receiver.

1. Latency: `--pauses` runs pause one after the other; for each, the time from sending the
   pause request to the receiver holding the webhook. Median and p99.
2. Burst: `--burst` runs are created and paused by `--threads` threads at once; the time from
   the first request to the last webhook received, and a check that every pause was delivered
   exactly once (by webhook-id, stable across retries).

    python bench/automations.py [--pauses 50] [--burst 1000] [--threads 8]

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from _common import free_port, median, p99, report, start_server


class Receiver:
    """Records when each webhook arrived: run id -> arrival times, and every webhook-id."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.arrived: dict[str, list[float]] = {}
        self.ids: list[str] = []
        self.changed = threading.Condition(self.lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                now = time.perf_counter()
                run_id = json.loads(body)["data"]["run"]["id"]
                with receiver.changed:
                    receiver.arrived.setdefault(run_id, []).append(now)
                    receiver.ids.append(self.headers["webhook-id"])
                    receiver.changed.notify_all()
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.port = free_port()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait(self, predicate: Any, timeout: float = 300) -> float:
        with self.changed:
            if not self.changed.wait_for(predicate, timeout):
                raise RuntimeError("webhooks did not arrive within the timeout")
        return time.perf_counter()


def add_automation(database_url: str, webhook: str) -> None:
    from inloop.automations import AutomationSpec
    from inloop.server.database.engine import Database
    from inloop.server.database.schema import automations

    spec = AutomationSpec.model_validate({
        "name": "bench-webhook",
        "trigger": {"kinds": ["flow-run.paused"]},
        "actions": [{"type": "webhook", "url": webhook}],
    })

    async def insert() -> None:
        db = Database(database_url)
        now = datetime.now(UTC)
        async with db.transaction() as tx:
            await tx.execute(automations.insert().values(
                id=str(uuid.uuid4()), name=spec.name, enabled=True,
                spec=spec.model_dump(mode="json"), created=now, updated=now))
        await db.stop()

    asyncio.run(insert())


def pause(http: httpx.Client, flow: str) -> tuple[str, float]:
    run = http.post("/flow_runs", json={"flow_name": flow, "state": "RUNNING"}).json()
    sent = time.perf_counter()
    response = http.post(f"/flow_runs/{run['id']}/pause", json={"key": "k", "timeout": 3600})
    response.raise_for_status()
    return str(run["id"]), sent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pauses", type=int, default=50)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    database_url = os.environ.get("INLOOP_DATABASE_URL")
    receiver = Receiver()
    # The receiver listens on loopback, which automations reach only when allowed.
    with start_server(database_url, settings={"INLOOP_AUTOMATION_ALLOW": "127.0.0.1"}) as server:
        add_automation(database_url or f"sqlite+aiosqlite:///{server.home / 'inloop.db'}",
                       f"http://127.0.0.1:{receiver.port}/hook")
        with httpx.Client(base_url=server.api_url, timeout=60) as http:
            latencies = []
            for _ in range(args.pauses):
                run_id, sent = pause(http, "bench-latency")
                received = receiver.wait(lambda run_id=run_id: run_id in receiver.arrived)
                latencies.append((received - sent) * 1000)
        report("pause -> webhook received, median", median(latencies), "ms")
        report("pause -> webhook received, p99", p99(latencies), "ms")

        before = len(receiver.ids)
        local = threading.local()

        def one(_: int) -> str:
            if not hasattr(local, "http"):
                local.http = httpx.Client(base_url=server.api_url, timeout=60)
            return pause(local.http, "bench-burst")[0]

        started = time.perf_counter()
        with ThreadPoolExecutor(args.threads) as pool:
            run_ids = list(pool.map(one, range(args.burst)))
        paused_in = time.perf_counter() - started
        drained = receiver.wait(lambda: len(receiver.ids) - before >= args.burst) - started
        time.sleep(1.0)  # let any duplicate show itself before counting
        burst_ids = receiver.ids[before:]
        report(f"burst: {args.burst} pauses sent", paused_in, "s")
        report(f"burst: all {args.burst} webhooks received", drained, "s")
        missing = [r for r in run_ids if r not in receiver.arrived]
        twice = len(burst_ids) - len(set(burst_ids))
        print(f"burst: delivered {len(set(burst_ids))}/{args.burst}, missing {len(missing)}, "
              f"sent twice {twice}")
    receiver.httpd.shutdown()


if __name__ == "__main__":
    main()
