"""`inloop server start` as a user runs it: a banner, a healthy server, a clean stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(tmp_path: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("INLOOP_")}
    return subprocess.Popen(
        [sys.executable, "-m", "inloop", "server", "start", *args],
        env={**base, "INLOOP_HOME": str(tmp_path), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_healthy(process: subprocess.Popen[str], port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited early: {process.communicate()}")
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1)
        except httpx.HTTPError:
            response = None
        if response is not None and response.status_code == 200:
            assert response.json()["status"] == "ok"
            return
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"server not healthy within {timeout} s: {process.communicate()}")


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_server_start_serves_and_stops_cleanly(tmp_path: Path, stop_signal: int) -> None:
    port = free_port()
    process = start(tmp_path, "--host", "127.0.0.1", "--port", str(port))
    try:
        wait_healthy(process, port)
        process.send_signal(stop_signal)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert "KeyboardInterrupt" not in err
    banner = out.splitlines()[0]
    assert f"http://127.0.0.1:{port}" in banner
    assert f"http://127.0.0.1:{port}/api/docs" in banner
    assert (tmp_path / "inloop.db").exists()


def test_server_start_takes_host_and_port_from_settings(tmp_path: Path) -> None:
    port = free_port()
    process = start(tmp_path, INLOOP_SERVER_HOST="127.0.0.1", INLOOP_SERVER_PORT=str(port))
    try:
        wait_healthy(process, port)
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert f"http://127.0.0.1:{port}/api/docs" in out


def test_server_start_on_a_busy_port_exits_1_with_a_clear_message(tmp_path: Path) -> None:
    port = free_port()
    with socket.socket() as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(("127.0.0.1", port))
        busy.listen()
        process = start(tmp_path, "--port", str(port))
        _, err = process.communicate(timeout=30)
    assert process.returncode == 1
    assert "Traceback" not in err
    assert err.startswith("Error: ")
    assert f"port {port}" in err and "--port" in err
