"""How fast does a served flow start? Prints medians over N runs.

  1. run_deployment(..., timeout=0) -> the flow's first line runs   (a runner is serving)
  2. resume of a suspended run      -> the flow's next line runs    (re-executed by the runner)

Starts its own server (SQLite, temp home, or INLOOP_DATABASE_URL if set) and runner.
Usage: python bench/runner.py [N]   (default 10)
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Literal, TypeVar

FLOW = '''
import os, time
from inloop import flow
from inloop.flow_runs import suspend_flow_run

MARKS = os.environ["BENCH_MARKS"]


def mark(name):
    try:
        with open(os.path.join(MARKS, name), "x") as f:
            f.write(repr(time.time()))
    except FileExistsError:
        pass


@flow
def bench(i: int, suspend: bool = False):
    mark(f"{i}-start")
    if suspend:
        suspend_flow_run(wait_for_input=str)
        mark(f"{i}-resumed")


if __name__ == "__main__":
    bench.serve(name="bench")
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T | Literal[False] | None],
    timeout: float = 30.0,
    interval: float = 0.002,
) -> T:
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout} s for {predicate}")
        time.sleep(interval)
    return result


def read_mark(path: Path) -> float | None:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    return float(text) if text else None


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    with tempfile.TemporaryDirectory(prefix="inloop-bench-") as tmp:
        home, marks = Path(tmp) / "home", Path(tmp) / "marks"
        marks.mkdir()
        port = free_port()
        api = f"http://127.0.0.1:{port}/api"
        env = {**os.environ, "INLOOP_HOME": str(home), "INLOOP_API_URL": api,
               "BENCH_MARKS": str(marks)}
        os.environ.update({"INLOOP_HOME": str(home), "INLOOP_API_URL": api})
        flow_file = Path(tmp) / "bench_flow.py"
        flow_file.write_text(FLOW)
        server = subprocess.Popen(
            [sys.executable, "-c",
             f"from inloop.server.serve import serve; serve(host='127.0.0.1', port={port})"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        runner = None
        try:
            def healthy() -> bool:
                try:
                    with urllib.request.urlopen(f"{api}/health", timeout=1) as r:
                        return bool(r.status == 200)
                except OSError:
                    return False

            wait_until(healthy, interval=0.05)
            log = open(os.environ.get("BENCH_RUNNER_LOG", os.devnull), "w")
            runner = subprocess.Popen(
                [sys.executable, str(flow_file)], env=env, stdout=log, stderr=log
            )
            log.close()
            from inloop import get_client, resume_flow_run
            from inloop.deployments import run_deployment

            client = get_client()
            wait_until(lambda: any(d.full_name == "bench/bench"
                                   for d in client.read_deployments()), interval=0.05)
            # One unmeasured run: both sides' first requests pay for lazy imports.
            run = run_deployment("bench/bench", {"i": -1}, timeout=0)
            wait_until(lambda: client.read_flow_run(run.id).state.is_final(), interval=0.01)
            time.sleep(1.0)  # the runner pre-starts its next process meanwhile

            # The `type: ignore[misc]`s below: mypy cannot type a lambda whose default captures a
            # loop variable (python/mypy#12557).
            start_latencies = []
            for i in range(n):
                t0 = time.time()
                run = run_deployment("bench/bench", {"i": i}, timeout=0)
                started = wait_until(partial(read_mark, marks / f"{i}-start"))
                start_latencies.append(started - t0)
                if os.environ.get("BENCH_VERBOSE"):
                    print(f"run {i}: {(started - t0) * 1000:.0f} ms")
                wait_until(lambda run=run: client.read_flow_run(run.id).state.is_final(),  # type: ignore[misc]
                           interval=0.01)
                time.sleep(1.0)  # the runner pre-starts its next process meanwhile

            resume_latencies = []
            for i in range(n, 2 * n):
                run = run_deployment("bench/bench", {"i": i, "suspend": True}, timeout=0)
                wait_until(lambda run=run: client.read_flow_run(run.id).state.is_suspended(),  # type: ignore[misc]
                           interval=0.01)
                time.sleep(1.0)
                t0 = time.time()
                resume_flow_run(run.id, {"value": "go"})
                resumed = wait_until(partial(read_mark, marks / f"{i}-resumed"))
                resume_latencies.append(resumed - t0)
                wait_until(lambda run=run: client.read_flow_run(run.id).state.is_final(),  # type: ignore[misc]
                           interval=0.01)

            def show(label: str, values: list[float]) -> None:
                ms = sorted(v * 1000 for v in values)
                print(f"{label}: median {statistics.median(ms):.0f} ms "
                      f"(min {ms[0]:.0f}, max {ms[-1]:.0f}, n={len(ms)})")

            show("run_deployment(timeout=0) -> flow's first line", start_latencies)
            show("resume of a suspended run -> flow's next line ", resume_latencies)
        finally:
            for process in (runner, server):
                if process is not None:
                    process.terminate()
                    try:
                        process.wait(15)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()


if __name__ == "__main__":
    main()
