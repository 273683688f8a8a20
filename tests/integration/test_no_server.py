"""With no server at INLOOP_API_URL, a flow run fails fast and says how to start one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inloop import flow
from inloop.client import ServerUnavailable


def free_port() -> int:
    """A port nothing listens on (bound for a moment, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SCRIPT = """
from inloop import flow

@flow
def lonely():
    return 1

lonely()
"""


def test_flow_script_fails_fast_naming_the_url(tmp_path: Path) -> None:
    api_url = f"http://127.0.0.1:{free_port()}/api"
    script = tmp_path / "lonely.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "INLOOP_API_URL": api_url}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=30
    )
    elapsed = time.monotonic() - started
    assert result.returncode != 0
    assert elapsed < 5, f"took {elapsed:.1f} s"
    assert api_url in result.stderr
    assert "inloop server start" in result.stderr
    assert "INLOOP_API_URL" in result.stderr


def test_in_process_flow_raises_server_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    api_url = f"http://127.0.0.1:{free_port()}/api"
    monkeypatch.setenv("INLOOP_API_URL", api_url)

    @flow
    def lonely() -> int:
        return 1

    started = time.monotonic()
    with pytest.raises(ServerUnavailable) as caught:
        lonely()
    assert time.monotonic() - started < 5
    assert api_url in str(caught.value)
    assert "inloop server start" in str(caught.value)


async def test_async_flow_raises_server_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    api_url = f"http://127.0.0.1:{free_port()}/api"
    monkeypatch.setenv("INLOOP_API_URL", api_url)

    @flow
    async def lonely() -> int:
        return 1

    with pytest.raises(ServerUnavailable, match="inloop server start"):
        await lonely()


def test_unroutable_host_does_not_hang(tmp_path: Path) -> None:
    """An address that drops packets (TEST-NET-1) is bounded by the connect timeout."""
    api_url = "http://192.0.2.1:4200/api"
    script = tmp_path / "lonely.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "INLOOP_API_URL": api_url}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert time.monotonic() - started < 60
    assert api_url in result.stderr
