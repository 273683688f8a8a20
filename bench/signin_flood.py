"""What a flood of wrong passwords does to everyone else: `/api/health` latency, idle vs flooded.

Issue 17's target: with 8 clients hammering wrong passwords, `/api/health` p50 stays within 2x
of idle. Each scenario starts a fresh server (SQLite, or INLOOP_DATABASE_URL's database) with one
admin user who has a password, samples `/api/health` one request at a time while idle, then
again while a child process (its own CPU, not this one's) keeps 8 connections posting wrong
passwords to `/api/session` as fast as the server answers. Two scenarios:

- throttled: the default settings (a few failures, then 429s with Retry-After);
- unthrottled: the throttle's allowances raised out of reach, so every attempt is a real
  argon2 check: only the bounded, off-loop checking keeps the server responsive.

Prints figures; asserts nothing.

    python bench/signin_flood.py [--samples 300] [--clients 8]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from _common import median, report, start_server

PASSWORD = "the admin's real password"
SCENARIOS = {
    "throttled": {},
    "unthrottled": {
        "INLOOP_SIGNIN_ACCOUNT_FAILURES": "1000",
        "INLOOP_SIGNIN_ADDRESS_FAILURES": "10000",
    },
}


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def flood(api_url: str, clients: int) -> None:
    """Run in the child: post wrong passwords on `clients` connections until SIGTERM, then print
    the answers' status counts (one JSON line)."""
    counts: collections.Counter[int] = collections.Counter()

    async def one(number: int) -> None:
        async with httpx.AsyncClient(base_url=api_url, timeout=60) as http:
            guess = 0
            while True:
                guess += 1
                # Half guess the real account, half names no one has (the dummy-hash path).
                name = "admin" if number % 2 == 0 else f"nobody-{number}"
                answer = await http.post(
                    "/session", json={"name": name, "password": f"guess-{number}-{guess}"}
                )
                counts[answer.status_code] += 1

    def done() -> None:
        print(json.dumps(counts), flush=True)
        os._exit(0)

    async def all_clients() -> None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, done)
        await asyncio.gather(*(one(n) for n in range(clients)))

    asyncio.run(all_clients())


def sample_health(http: httpx.Client, samples: int) -> list[float]:
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        http.get("/health").raise_for_status()
        timings.append(time.perf_counter() - started)
        time.sleep(0.01)  # sample the server over time, not back to back
    return timings


def scenario(name: str, args: argparse.Namespace) -> tuple[float, float]:
    database = os.environ.get("INLOOP_DATABASE_URL")
    settings = {**SCENARIOS[name], "INLOOP_LOGGING_LEVEL": "WARNING"}
    with start_server(database, settings=settings, quiet=True) as server:
        with httpx.Client(base_url=server.api_url, timeout=60) as http:
            admin = {"name": "admin", "role": "admin", "password": PASSWORD}
            made = http.post("/users", json=admin)
            made.raise_for_status()
            sample_health(http, 20)  # warm up
            idle = sample_health(http, args.samples)
            child = subprocess.Popen(
                [sys.executable, __file__, "--flood", server.api_url, "--clients",
                 str(args.clients)],
                stdout=subprocess.PIPE, text=True, env=server.env,
            )
            try:
                time.sleep(2.0)  # let the flood reach its pace
                flooded = sample_health(http, args.samples)
                began = time.perf_counter()
                still = http.post("/session", json={"name": "admin", "password": PASSWORD})
                took = time.perf_counter() - began
            finally:
                child.terminate()
                out, _ = child.communicate(timeout=30)
        lines = out.strip().splitlines()
        counts = json.loads(lines[-1]) if lines else {}
    idle_p50, flood_p50 = median(idle) * 1000, median(flooded) * 1000
    print(f"\n{name}: {args.clients} clients posting wrong passwords "
          f"(answers: {', '.join(f'{n} x {code}' for code, n in sorted(counts.items()))})")
    report(f"{name}: /api/health p50 idle", idle_p50, "ms")
    report(f"{name}: /api/health p95 idle", p95(idle) * 1000, "ms")
    report(f"{name}: /api/health p50 under flood", flood_p50, "ms", target=2 * idle_p50)
    report(f"{name}: /api/health p95 under flood", p95(flooded) * 1000, "ms")
    print(f"{name}: the right password during the flood: HTTP {still.status_code} "
          f"in {took:.2f} s" + (f" (Retry-After {still.headers['retry-after']} s)"
                                if "retry-after" in still.headers else ""))
    return idle_p50, flood_p50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=300, help="health requests per phase")
    parser.add_argument("--clients", type=int, default=8, help="concurrent wrong-password posters")
    parser.add_argument("--flood", metavar="API_URL", help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args()  # scripts/bench passes every bench the same arguments
    if args.flood:
        flood(args.flood, args.clients)
        return
    database = "PostgreSQL" if os.environ.get("INLOOP_DATABASE_URL") else "SQLite"
    print(f"/api/health under a wrong-password flood ({database}, {os.cpu_count()} CPUs, "
          f"{args.samples} samples per phase)")
    for name in SCENARIOS:
        scenario(name, args)


if __name__ == "__main__":
    main()
