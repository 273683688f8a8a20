"""With no server at INLOOP_API_URL, a flow run fails fast and says how to start one."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from inloop import flow
from inloop.client import ServerUnavailable


def free_port() -> int:
    """A port nothing listens on (bound for a moment, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


FLOWS_DIR = Path(__file__).resolve().parents[1] / "flows"
SCRIPT = FLOWS_DIR / "lonely.py"


def test_flow_script_fails_fast_naming_the_url() -> None:
    api_url = f"http://127.0.0.1:{free_port()}/api"
    script = SCRIPT
    env = {**os.environ, "INLOOP_API_URL": api_url}
    # It gives up instead of retrying forever: the 30 s timeout bounds it (no timed assert,
    # which a busy machine would break).
    result = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode != 0
    assert api_url in result.stderr
    assert "inloop server start" in result.stderr
    assert "INLOOP_API_URL" in result.stderr


def test_in_process_flow_raises_server_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    api_url = f"http://127.0.0.1:{free_port()}/api"
    monkeypatch.setenv("INLOOP_API_URL", api_url)

    @flow
    def lonely() -> int:
        return 1

    with pytest.raises(ServerUnavailable) as caught:
        lonely()
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


@contextlib.contextmanager
def black_hole() -> Iterator[int]:
    """A loopback port that drops connection attempts, as an unroutable host does.

    A listener with a full backlog that never accepts: Linux drops further SYNs (rather than
    refusing them), so a connect waits for its timeout. Loopback only: tests send nothing off
    this machine.
    """
    with contextlib.ExitStack() as stack:
        listener = stack.enter_context(socket.socket())
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = int(listener.getsockname()[1])
        for _ in range(4):  # fill the backlog (its real size is a little above the one asked)
            filler = stack.enter_context(socket.socket())
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
        time.sleep(0.2)
        yield port


def test_unroutable_host_does_not_hang() -> None:
    """An address that drops packets is bounded by the connect timeout."""
    with black_hole() as port:
        api_url = f"http://127.0.0.1:{port}/api"
        script = SCRIPT
        env = {**os.environ, "INLOOP_API_URL": api_url}
        # Gives up after its connect timeout instead of waiting forever; the subprocess
        # timeout bounds the test (no timed assert: a busy machine would break one).
        result = subprocess.run(
            [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
        )
    assert result.returncode != 0
    assert api_url in result.stderr
