"""What inloop costs: import, a trivial flow in-process and as a new process, server start, RSS.

Prints figures beside their targets; asserts nothing. Starts its own server on a free port with
a temp INLOOP_HOME (SQLite), or on INLOOP_DATABASE_URL's database when that is set.

    python bench/overhead.py [--calls 200] [--repeats 7]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import median, p99, report, rss_mb, start_server, time_calls

TRIVIAL_SCRIPT = """
from inloop import flow

@flow
def trivial():
    return 1

trivial()
"""


def seconds_to_run(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="in-process flow calls to time")
    parser.add_argument("--repeats", type=int, default=7, help="runs of each process timing")
    args = parser.parse_args()
    database_url = os.environ.get("INLOOP_DATABASE_URL")
    print(f"inloop overhead ({'PostgreSQL' if database_url else 'SQLite'}, "
          f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs)\n")

    base_env = {k: v for k, v in os.environ.items() if not k.startswith("INLOOP_")}
    imports = [
        seconds_to_run([sys.executable, "-c", "import inloop"], base_env)
        for _ in range(args.repeats)
    ]
    report("import inloop (new process, median)", median(imports), "s", 0.3)

    starts = []
    for _ in range(max(3, args.repeats // 2)):
        with start_server(database_url) as server:
            starts.append(server.started_in)
    report("server start to healthy, empty db (median)", median(starts), "s", 2.0)

    with start_server(database_url) as server:
        for _ in range(20):
            server.get("/health")
            server.get("/flow_runs?limit=10")
        time.sleep(0.5)
        report("server idle RSS after start + 40 requests", rss_mb(server.process.pid), "MB", 100)

        os.environ.update({"INLOOP_API_URL": server.api_url, "INLOOP_HOME": str(server.home)})
        os.environ.pop("INLOOP_API_KEY", None)
        os.environ["INLOOP_LOGGING_LEVEL"] = "WARNING"  # time the flow, not the console

        from inloop import flow

        @flow
        def trivial_sync() -> int:
            return 1

        @flow
        async def trivial_async() -> int:
            return 1

        sync_times = time_calls(trivial_sync, args.calls, warmup=20)
        report("trivial sync flow in-process (median)", median(sync_times) * 1000, "ms", 15)
        report("trivial sync flow in-process (p99)", p99(sync_times) * 1000, "ms")

        async def async_calls() -> list[float]:
            for _ in range(20):
                await trivial_async()
            timings = []
            for _ in range(args.calls):
                started = time.perf_counter()
                await trivial_async()
                timings.append(time.perf_counter() - started)
            return timings

        async_times = asyncio.run(async_calls())
        report("trivial async flow in-process (median)", median(async_times) * 1000, "ms", 15)
        report("trivial async flow in-process (p99)", p99(async_times) * 1000, "ms")

        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "trivial.py"
            script.write_text(TRIVIAL_SCRIPT)
            runs = [
                seconds_to_run([sys.executable, str(script)], server.env)
                for _ in range(args.repeats)
            ]
        report("trivial flow script as a new process (median)", median(runs), "s", 0.6)


if __name__ == "__main__":
    main()
