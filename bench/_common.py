"""Helpers shared by the benchmarks: a throwaway server, free ports, and summary figures."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BenchServer",
    "free_port",
    "median",
    "p99",
    "report",
    "rss_mb",
    "start_server",
    "time_calls",
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def p99(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def time_calls(fn: Callable[[], object], n: int, warmup: int = 10) -> list[float]:
    """Seconds taken by each of `n` calls of `fn`, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    timings = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        timings.append(time.perf_counter() - started)
    return timings


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (VmRSS from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def report(label: str, value: float, unit: str, target: float | None = None) -> None:
    """One aligned line: figure, target, and whether the target is met."""
    line = f"{label:<44} {value:>9.3f} {unit:<3}"
    if target is not None:
        verdict = "ok" if value <= target else "OVER TARGET"
        line += f"   target <= {target:g} {unit}   {verdict}"
    print(line, flush=True)


@dataclass
class BenchServer:
    process: subprocess.Popen[bytes]
    port: int
    home: Path
    started_in: float  # seconds from spawn to a healthy /api/health

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def env(self) -> dict[str, str]:
        """The environment a flow process needs to use this server."""
        clean = {k: v for k, v in os.environ.items() if not k.startswith("INLOOP_")}
        return {**clean, "INLOOP_API_URL": self.api_url, "INLOOP_HOME": str(self.home)}

    def get(self, path: str) -> object:
        with urllib.request.urlopen(f"{self.api_url}{path}", timeout=5) as response:
            return json.loads(response.read())


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@contextlib.contextmanager
def start_server(
    database_url: str | None = None,
    timeout: float = 30.0,
    settings: Mapping[str, str] | None = None,
    quiet: bool = False,
) -> Iterator[BenchServer]:
    """Start `inloop server start` on a free port and an empty temp home, with `settings`
    (INLOOP_* variables) added to its environment; stop it with SIGTERM. `quiet`: drop its
    stderr (requests a flood left waiting are cancelled at the stop, each with a traceback)."""
    with tempfile.TemporaryDirectory(prefix="inloop-bench-") as home:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("INLOOP_")}
        env.update(settings or {})
        env["INLOOP_HOME"] = home
        if database_url:
            env["INLOOP_DATABASE_URL"] = database_url
        env.update(settings or {})
        argv = [sys.executable, "-m", "inloop", "server", "start", "--host", "127.0.0.1"]
        health = f"http://127.0.0.1:{port}/api/health"
        started = time.perf_counter()
        process = subprocess.Popen(
            [*argv, "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL if quiet else None,
        )
        try:
            while not _healthy(health):
                if process.poll() is not None:
                    raise RuntimeError(f"server exited with code {process.returncode}")
                if time.perf_counter() - started > timeout:
                    raise RuntimeError(f"server not healthy within {timeout:g} s")
                time.sleep(0.01)
            yield BenchServer(process, port, Path(home), time.perf_counter() - started)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
