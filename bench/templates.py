"""A runaway notify template must not stall the server: /api/health while such templates render.

Starts its own server, writes one automation whose notify body is two nested `range(3000)`
loops (9 million iterations; it once held the event loop for 2.7 s per delivery), pauses
`--pauses` runs so that many deliveries render it, and times /api/health meanwhile. Rendering
happens in worker threads within a step and time budget, so each delivery fails quickly and the
health check keeps its idle latency.

    python bench/templates.py [--pauses 20] [--seconds 5]

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from _common import median, p99, report, start_server, time_calls

RUNAWAY = "{% for i in range(3000) %}{% for j in range(3000) %}{% endfor %}{% endfor %}done"


def add_automation(database_url: str) -> None:
    from inloop.automations import AutomationSpec
    from inloop.server.database.engine import Database
    from inloop.server.database.schema import automations

    # Written straight into the database: `automation apply` refuses this template.
    spec = AutomationSpec.model_validate({
        "name": "bench-runaway",
        "trigger": {"kinds": ["flow-run.paused"]},
        "actions": [{"type": "notify", "urls": ["json://127.0.0.1:1/"], "body": RUNAWAY}],
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pauses", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    database_url = os.environ.get("INLOOP_DATABASE_URL")
    with start_server(database_url) as server:
        url = database_url or f"sqlite+aiosqlite:///{server.home / 'inloop.db'}"
        add_automation(url)
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}/api", timeout=60) as http:
            idle = time_calls(lambda: http.get("/health"), 200)
            for _ in range(args.pauses):
                run = http.post("/flow_runs", json={"flow_name": "bench-runaway",
                                                    "state": "RUNNING"}).json()
                http.post(f"/flow_runs/{run['id']}/pause", json={"key": "k", "timeout": 3600})
            busy: list[float] = []
            until = time.perf_counter() + args.seconds
            while time.perf_counter() < until:
                started = time.perf_counter()
                http.get("/health")
                busy.append(time.perf_counter() - started)
            failed = http.get("/automations/bench-runaway/deliveries",
                              params={"status": "failed", "limit": 100}).json()
    report("/api/health p50, idle", median(idle) * 1000, "ms")
    report("/api/health p50, runaway templates rendering", median(busy) * 1000, "ms")
    report("/api/health p99, runaway templates rendering", p99(busy) * 1000, "ms")
    report("/api/health max, runaway templates rendering", max(busy) * 1000, "ms")
    report(f"deliveries failed over budget (of {args.pauses})", float(len(failed)), "")
    if failed:
        print(f"  e.g. {failed[0]['last_error'][:120]}")


if __name__ == "__main__":
    main()
