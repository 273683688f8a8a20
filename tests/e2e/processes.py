"""End-to-end helpers: long-lived processes (runners, senders) whose output is read as it comes.

Reader threads drain each process's stdout and stderr (so a chatty process never blocks on a
full pipe). A module of its own, not tests/e2e/conftest.py: with a conftest.py in more than one
folder, which module `conftest` names depends on collection order, so tests import helpers by
this module's name and take the `spawn` fixture (a Spawner) from tests/e2e/conftest.py.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


class Proc:
    """A running process whose stdout and stderr are collected line by line."""

    def __init__(self, popen: subprocess.Popen[str]) -> None:
        self.popen = popen
        self._out: list[str] = []
        self._err: list[str] = []
        self._threads = [
            threading.Thread(target=self._drain, args=(popen.stdout, self._out), daemon=True),
            threading.Thread(target=self._drain, args=(popen.stderr, self._err), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @staticmethod
    def _drain(pipe: Any, sink: list[str]) -> None:
        with contextlib.suppress(ValueError, OSError):
            for line in pipe:
                sink.append(line)

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def stdout(self) -> str:
        return "".join(self._out)

    @property
    def stderr(self) -> str:
        return "".join(self._err)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def wait_for_output(self, text: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if self.popen.poll() is not None:
                self._join()
                if text in self.output:
                    return
                pytest.fail(f"process exited ({self.popen.returncode}) before printing "
                            f"{text!r}; output:\n{self.output}")
            if time.monotonic() > deadline:
                pytest.fail(f"{text!r} not printed within {timeout} s; output:\n{self.output}")
            time.sleep(0.02)

    def send(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.popen.send_signal(signum)

    def wait(self, timeout: float = 30) -> int:
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"process {self.pid} still running after {timeout} s; "
                        f"output:\n{self.output}")
        self._join()
        return code

    def stop(self, signum: int = signal.SIGINT, timeout: float = 30) -> int:
        self.send(signum)
        return self.wait(timeout)

    def _join(self) -> None:
        for thread in self._threads:
            thread.join(5)

    def close(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait()
        self._join()
        for pipe in (self.popen.stdin, self.popen.stdout, self.popen.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()


def kill_group_of_children(pid: int) -> None:
    """SIGKILL every process group whose leader's parent is `pid` (a runner's run processes)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                os.killpg(int(entry.name), signal.SIGKILL)


def kill_runner_and_runs(pid: int) -> None:
    """SIGKILL a runner and its run processes at once (the machine is lost)."""
    kill_group_of_children(pid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


class Spawner:
    """`spawn(path_or_source, *args, env=None, stdin=None)` -> a running Proc.

    Runs `python <file> *args` with this process's environment (which points at the active
    test server) plus `env`. Every process is killed and reaped by `close()`.
    """

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.started: list[Proc] = []

    def __call__(
        self,
        source_or_path: str | os.PathLike[str],
        *args: str,
        env: Mapping[str, str] | None = None,
        stdin: int | None = None,
        cwd: Path | None = None,
    ) -> Proc:
        path = Path(source_or_path)
        if isinstance(source_or_path, str) and ("\n" in source_or_path or not path.is_file()):
            path = self.tmp_path / f"script_{len(self.started)}.py"
            path.write_text(source_or_path)
        popen = subprocess.Popen(
            [sys.executable, str(path), *args],
            env={**os.environ, **(env or {})},
            stdin=stdin if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd or self.tmp_path,
        )
        proc = Proc(popen)
        self.started.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.started:
            # A runner's run processes live in their own sessions: end them with it.
            if proc.popen.poll() is None:
                proc.send(signal.SIGSTOP)  # no new children while we look for them
                kill_group_of_children(proc.pid)
            proc.close()


def cli(server: Any, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `inloop ARGS` as a user would, against `server`, with no terminal attached."""
    return subprocess.run(
        [sys.executable, "-m", "inloop", *args],
        env={**os.environ, **server.env},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
