"""What signing in costs: resume latency and send throughput, open mode vs a user's API token.

Issue 11's target: with a user token both figures stay within 10% of the open mode. Each round
starts a fresh server (SQLite, or INLOOP_DATABASE_URL's database), and in "users" mode first makes
an admin user and an API token for it; then a child process (so its settings come from a clean
environment) runs an async flow that pauses `--pauses` times while the parent resumes it, and
sends `--sends` inputs one after another. Rounds alternate between the modes so that a noisy
machine hurts both alike. Prints figures; asserts nothing.

    python bench/people.py [--rounds 3] [--pauses 40] [--sends 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from _common import median, start_server
from pause_resume import WARMUP, make_flows, wait_until_paused

# Awaits @dual functions the way the seed examples do: right at run time, reported by a type
# checker (see inloop._dual), hence the `type: ignore[misc]` on those lines.

MODES = ("open", "users")


def child(pauses: int, sends: int, settle: float) -> None:
    """Run in the child: the timed flow and sends; prints one JSON line of figures."""
    from inloop import get_client

    api_url = os.environ["INLOOP_API_URL"]
    token = os.environ.get("INLOOP_API_KEY")
    headers = {"authorization": f"Bearer {token}"} if token else {}
    woke: list[float] = []
    resumed: list[float] = []
    run_ids: queue.Queue[str] = queue.Queue()
    _, async_flow = make_flows(woke, run_ids, pauses + WARMUP)
    thread = threading.Thread(target=lambda: asyncio.run(async_flow()), daemon=True)
    thread.start()
    run_id = run_ids.get(timeout=30)
    with httpx.Client(base_url=api_url, timeout=40, headers=headers) as http:
        seq = 0
        for i in range(1, pauses + WARMUP + 1):
            seq = wait_until_paused(http, run_id, f"paused-{i}", seq)
            time.sleep(settle)
            response = http.post(f"/flow_runs/{run_id}/resume", json={"run_input": {"value": i}})
            resumed.append(time.perf_counter())
            response.raise_for_status()
    thread.join(30)
    latencies = [w - r for w, r in zip(woke[WARMUP:], resumed[WARMUP:], strict=True)]

    async def send_all() -> float:
        client = get_client()
        # A running run that nobody reads: the figure is the write path, not a receiver.
        run = (await client.create_flow_run("bench-target")).id  # type: ignore[misc]
        for i in range(10):
            await client.create_flow_run_input(run, f"warm-{i}", i)  # type: ignore[misc]
        began = time.perf_counter()
        for i in range(sends):
            await client.create_flow_run_input(run, f"key-{i}", i)  # type: ignore[misc]
        return sends / (time.perf_counter() - began)

    rate = asyncio.run(send_all())
    print(json.dumps({"resume_ms": median(latencies) * 1000, "sends_per_s": rate}))


def make_token(api_url: str) -> str:
    """In open mode anyone may add the first user; then that admin makes itself a token."""
    with httpx.Client(base_url=api_url, timeout=30) as http:
        made = http.post("/users", json={"name": "bench", "role": "admin", "password": "x" * 12})
        made.raise_for_status()
        signed_in = http.post("/session", json={"name": "bench", "password": "x" * 12})
        signed_in.raise_for_status()
        origin = api_url.removesuffix("/api")
        token = http.post(
            "/tokens", json={"name": "bench"}, headers={"origin": origin}
        )
        token.raise_for_status()
        return str(token.json()["token"])


def one_round(mode: str, args: argparse.Namespace) -> dict[str, Any]:
    with start_server(os.environ.get("INLOOP_DATABASE_URL")) as server:
        env = {**server.env, "INLOOP_LOGGING_LEVEL": "WARNING"}
        if mode == "users":
            env["INLOOP_API_KEY"] = make_token(server.api_url)
        argv = [sys.executable, __file__, "--child", "--pauses", str(args.pauses),
                "--sends", str(args.sends), "--settle", str(args.settle)]
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{mode} round failed:\n{done.stderr[-3000:]}")
        figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds per mode, interleaved")
    parser.add_argument("--pauses", type=int, default=40, help="timed pauses per round")
    parser.add_argument("--sends", type=int, default=300, help="timed sends per round")
    parser.add_argument("--settle", type=float, default=0.05, help="seconds before each resume")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args()  # scripts/bench passes every bench the same arguments
    if args.child:
        child(args.pauses, args.sends, args.settle)
        return
    database = "PostgreSQL" if os.environ.get("INLOOP_DATABASE_URL") else "SQLite"
    print(f"open mode vs a user's API token ({database}, {os.cpu_count()} CPUs, "
          f"{args.rounds} rounds x {args.pauses} pauses, {args.sends} sends)\n")
    results: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    for number in range(args.rounds):
        for mode in MODES if number % 2 == 0 else reversed(MODES):
            figures = one_round(mode, args)
            results[mode].append(figures)
            print(f"round {number + 1} {mode:<5}  resume {figures['resume_ms']:7.2f} ms   "
                  f"sends {figures['sends_per_s']:7.1f} /s", flush=True)
    print()
    summary = {
        mode: (
            median([r["resume_ms"] for r in rounds]),
            median([r["sends_per_s"] for r in rounds]),
        )
        for mode, rounds in results.items()
    }
    for mode, (resume, rate) in summary.items():
        print(f"{mode:<5} median of rounds: resume {resume:7.2f} ms   sends {rate:7.1f} /s")
    (open_resume, open_rate), (user_resume, user_rate) = summary["open"], summary["users"]
    resume_change = (user_resume / open_resume - 1) * 100
    rate_change = (user_rate / open_rate - 1) * 100
    print(f"\nuser token vs open: resume latency {resume_change:+.1f}%, "
          f"send throughput {rate_change:+.1f}%   (target: within 10%)")


if __name__ == "__main__":
    main()
