"""What a run token's checks cost: heartbeats and reads as the run vs as an admin's API token.

A run token is checked on every request: is its run still live (the token ends with the run),
and does the request stay within its run (a heartbeat's or a log batch's run ids). The liveness
answer is cached per run until the run's state changes, so the steady cost should be close to
an API token's. A third figure times requests right after a state change (cache dropped: one
query more). Starts a fresh server (SQLite, or INLOOP_DATABASE_URL's database), makes the first
user, and times `--calls` requests of each kind, interleaved. Prints figures; asserts nothing.

    python bench/run_tokens.py [--calls 500]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from _common import median, p99, report, start_server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args()
    with start_server(os.environ.get("INLOOP_DATABASE_URL")) as server:
        with httpx.Client(base_url=server.api_url, timeout=30) as http:
            admin = http.post("/users", json={"name": "root", "role": "admin"}).json()["token"]
            as_admin = {"authorization": f"Bearer {admin}"}
            run = http.post("/flow_runs", json={"flow_name": "bench", "state": "RUNNING"},
                            headers=as_admin).json()
            as_run = {"x-inloop-run-token": run["run_token"]}
            beat = {"ids": [run["id"]]}
            timings: dict[str, list[float]] = {}

            def timed(label: str, method: str, path: str, headers: dict[str, str],
                      body: object = None) -> None:
                started = time.perf_counter()
                response = http.request(method, path, json=body, headers=headers)
                timings.setdefault(label, []).append(time.perf_counter() - started)
                response.raise_for_status()

            read = f"/flow_runs/{run['id']}"
            for _ in range(20):  # warm up connections and caches
                timed("warmup", "POST", "/flow_runs/heartbeat", as_run, beat)
                timed("warmup", "POST", "/flow_runs/heartbeat", as_admin, beat)
            for _ in range(args.calls):
                timed("heartbeat, admin token", "POST", "/flow_runs/heartbeat", as_admin, beat)
                timed("heartbeat, run token", "POST", "/flow_runs/heartbeat", as_run, beat)
                timed("read run, admin token", "GET", read, as_admin)
                timed("read run, run token", "GET", read, as_run)
            # A token's first request (and its first after each state change of its run)
            # reads the run's state: one query more than the steady case.
            for _ in range(min(args.calls, 200)):
                fresh = http.post("/flow_runs", json={"flow_name": "bench"},
                                  headers=as_admin).json()
                token = {"x-inloop-run-token": fresh["run_token"]}
                timed("read run, run token, first use", "GET", f"/flow_runs/{fresh['id']}",
                      token)
    for label, values in timings.items():
        if label == "warmup":
            continue
        report(f"{label} p50", median(values) * 1000, "ms")
        report(f"{label} p99", p99(values) * 1000, "ms")


if __name__ == "__main__":
    main()
