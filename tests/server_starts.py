"""Count the inloop server subprocesses a test run starts, across pytest-xdist workers.

Starting a server process is the slowest thing most tests do; the count, printed at the end of a
run, shows whether a change moved tests onto the in-process layer (tests/inprocess.py) or off it.

The controller (or the only process, without xdist) makes a directory and names it in
STARTS_VARIABLE before any worker exists; workers inherit the variable, and each server start
appends one line to a file of that directory. Lines shorter than PIPE_BUF written with O_APPEND
never interleave, so every worker can share one file.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

STARTS_VARIABLE = "INLOOP_TEST_SERVER_STARTS_DIR"
_FILE = "starts.log"
_folder_key = pytest.StashKey[str]()


def record_server_start(port: int) -> None:
    """Note one server subprocess start (nothing outside a pytest run that set the variable)."""
    folder = os.environ.get(STARTS_VARIABLE)
    if not folder:
        return
    line = f"{os.getpid()} {port}\n".encode()
    fd = os.open(Path(folder) / _FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def count_server_starts() -> int:
    folder = os.environ.get(STARTS_VARIABLE)
    if not folder:
        return 0
    try:
        return len((Path(folder) / _FILE).read_bytes().splitlines())
    except FileNotFoundError:
        return 0


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    if _is_worker(config) or os.environ.get(STARTS_VARIABLE):
        return
    folder = tempfile.mkdtemp(prefix="inloop-server-starts-")
    os.environ[STARTS_VARIABLE] = folder
    config.stash[_folder_key] = folder


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = config.stash.get(_folder_key, None)
    if folder is not None:
        os.environ.pop(STARTS_VARIABLE, None)
        shutil.rmtree(folder, ignore_errors=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _is_worker(terminalreporter.config):
        return
    terminalreporter.write_line(f"subprocess server starts: {count_server_starts()}")

