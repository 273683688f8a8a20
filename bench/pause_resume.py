"""Pause-to-resume latency: from the resume request returning to the flow's next line running.

A flow pauses for input again and again (default settings: poll_interval=10); for each pause a
resumer waits until the run is PAUSED, lets the flow settle into its wait, POSTs the resume and
notes when that call returned; the flow notes when pause_flow_run returned. Median and p99 over
`--pauses` pauses, for a sync flow and an async flow, each run in-process on its own thread.
Starts its own server on a free port with a temp INLOOP_HOME (SQLite), or on
INLOOP_DATABASE_URL's database when that is set. Prints figures; asserts nothing.

    python bench/pause_resume.py [--pauses 50] [--settle 0.05]

A negative latency means the flow was running again before the resumer's HTTP call had returned.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import queue
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from _common import median, p99, report, start_server

WARMUP = 3


def make_flows(woke: list[float], run_ids: queue.Queue[str], pauses: int) -> tuple[Any, Any]:
    from inloop import flow, get_run_context, pause_flow_run

    @flow
    def sync_pauses() -> None:
        run_ids.put(str(get_run_context().flow_run.id))
        for _ in range(pauses):
            pause_flow_run(wait_for_input=int)
            woke.append(time.perf_counter())

    @flow
    async def async_pauses() -> None:
        run_ids.put(str(get_run_context().flow_run.id))
        for _ in range(pauses):
            await pause_flow_run(wait_for_input=int)
            woke.append(time.perf_counter())

    return sync_pauses, async_pauses


def wait_until_paused(http: httpx.Client, run_id: str, key: str, seq: int) -> int:
    """Long-poll the run until it is PAUSED at `key`; return its state_seq."""
    while True:
        response = http.get(f"/flow_runs/{run_id}/wait", params={"after_seq": seq, "timeout": 30})
        response.raise_for_status()
        run = response.json()
        seq = run["state_seq"]
        if run["state"]["type"] == "PAUSED" and run["pause"]["key"] == key:
            return int(seq)
        if run["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            raise RuntimeError(f"flow run ended early: {run['state']}")


def measure(kind: str, api_url: str, pauses: int, settle: float) -> list[float]:
    woke: list[float] = []
    resumed: list[float] = []
    run_ids: queue.Queue[str] = queue.Queue()
    sync_flow, async_flow = make_flows(woke, run_ids, pauses + WARMUP)
    errors: list[BaseException] = []

    def run_flow() -> None:
        try:
            if kind == "sync":
                sync_flow()
            else:
                asyncio.run(async_flow())
        except BaseException as exc:
            errors.append(exc)
            run_ids.put("")

    thread = threading.Thread(target=run_flow, name=f"{kind}-flow", daemon=True)
    thread.start()
    run_id = run_ids.get(timeout=30)
    if not run_id:
        raise RuntimeError(f"the {kind} flow failed to start: {errors[0]!r}")
    with httpx.Client(base_url=api_url, timeout=40) as http:
        seq = 0
        for i in range(1, pauses + WARMUP + 1):
            seq = wait_until_paused(http, run_id, f"paused-{i}", seq)
            time.sleep(settle)  # a person answers later than at once: let the flow wait
            response = http.post(f"/flow_runs/{run_id}/resume", json={"run_input": {"value": i}})
            resumed.append(time.perf_counter())
            response.raise_for_status()
    thread.join(30)
    if errors:
        raise RuntimeError(f"the {kind} flow failed: {errors[0]!r}")
    return [w - r for w, r in zip(woke[WARMUP:], resumed[WARMUP:], strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pauses", type=int, default=50, help="timed pauses per flow kind")
    parser.add_argument(
        "--settle", type=float, default=0.05,
        help="seconds between the run showing PAUSED and the resume",
    )
    args, _ = parser.parse_known_args()  # scripts/bench passes every bench the same arguments
    database_url = os.environ.get("INLOOP_DATABASE_URL")
    print("resume request returned -> the paused flow's next line runs")
    database = "PostgreSQL" if database_url else "SQLite"
    print(f"({database}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"{args.pauses} pauses, default poll_interval=10)\n")
    with start_server(database_url) as server:
        os.environ["INLOOP_API_URL"] = server.api_url
        os.environ["INLOOP_HOME"] = str(server.home)
        os.environ["INLOOP_LOGGING_LEVEL"] = "WARNING"
        for kind in ("sync", "async"):
            latencies = [s * 1000 for s in measure(kind, server.api_url, args.pauses, args.settle)]
            report(f"{kind} flow, median", median(latencies), "ms", 20)
            report(f"{kind} flow, p99", p99(latencies), "ms")
            report(f"{kind} flow, min", min(latencies), "ms")
            report(f"{kind} flow, max", max(latencies), "ms")
    print("\nreference (the seed's product): 6000 ms median at its default poll interval")


if __name__ == "__main__":
    main()
