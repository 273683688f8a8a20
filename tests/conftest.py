"""Fixtures shared by every test layer: a real inloop server, flow scripts, and waiting.

Use these through fixtures, not `from conftest import ...`: with a conftest.py in more than one
test directory, which module is `conftest` depends on collection order. Helpers a test imports
live in tests/servers.py and tests/waiting.py; tests/ is a package, so they are imported as
`tests.servers` and `tests.waiting` (pytest puts the repository root on sys.path).

The database comes from `INLOOP_TEST_DATABASE_URL`: unset means SQLite in the server's temp home;
a `postgresql+asyncpg://` URL (an admin connection, e.g. to the `postgres` database) means each
server gets a fresh database of its own, created here and dropped at teardown.

Fixtures:
  server          module-scoped running server; INLOOP_API_URL points at it while active
  fresh_server    the same, function-scoped, on an empty database
  server_factory  start extra servers with their own settings (`server_factory(INLOOP_...=...)`)
  module_server_factory  the same, servers kept for the whole test module
  client          `inloop.get_client()` for the active server
  api             an `httpx.Client` on the active server's HTTP API, with its API key if any
  run_flow_script run a Python file (or source text) as a subprocess against the active server
  wait_for        `wait_for(predicate, timeout=20, interval=0.05)`: poll until truthy
  oidc_provider   module-scoped OpenID Connect provider process (oidc-provider-mock)

In-process fixtures (tests/inprocess.py; no server subprocess, for tests that only speak HTTP):
  app_client, fresh_app_client, app_factory, module_app_factory, async_app_client, store
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.inprocess import app_client as app_client
from tests.inprocess import app_factory as app_factory
from tests.inprocess import async_app_client as async_app_client
from tests.inprocess import fresh_app_client as fresh_app_client
from tests.inprocess import module_app_factory as module_app_factory
from tests.inprocess import store as store
from tests.oidc_provider import OidcProvider, running_provider
from tests.server_starts import pytest_configure as pytest_configure
from tests.server_starts import pytest_terminal_summary as pytest_terminal_summary
from tests.server_starts import pytest_unconfigure as pytest_unconfigure
from tests.servers import INLOOP_VARS, ServerInfo, _Environ, active_server, running_server
from tests.waiting import wait_for


@pytest.fixture(scope="session", autouse=True)
def _isolated_environment() -> Iterator[None]:
    """Keep tests away from the developer's ~/.inloop and any INLOOP_* of the outer shell."""
    environ = _Environ()
    with tempfile.TemporaryDirectory(prefix="inloop-test-home-") as home:
        environ.set("INLOOP_HOME", home)
        for name in INLOOP_VARS:
            environ.set(name, None)
        # The CLI prints wide tables into a pipe unless COLUMNS says otherwise; an outer shell's
        # (or a pytest-xdist worker's) COLUMNS must not narrow what the CLI tests read.
        for name in ("COLUMNS", "LINES"):
            environ.set(name, None)
        try:
            yield
        finally:
            environ.restore()


@pytest.fixture(scope="module")
def server() -> Iterator[ServerInfo]:
    with running_server() as info:
        yield info


@pytest.fixture
def fresh_server() -> Iterator[ServerInfo]:
    with running_server() as info:
        yield info


@contextlib.contextmanager
def _factory() -> Iterator[Callable[..., ServerInfo]]:
    with contextlib.ExitStack() as stack:

        def start(
            activate: bool = False, host: str | None = "127.0.0.1", **settings: str
        ) -> ServerInfo:
            return stack.enter_context(running_server(settings, activate=activate, host=host))

        yield start


@pytest.fixture
def server_factory() -> Iterator[Callable[..., ServerInfo]]:
    """`server_factory(activate=False, host="127.0.0.1", **settings)` starts one more server.

    Settings are environment variables for the server, e.g. `INLOOP_API_KEY="k"`; each server
    is stopped (and its database dropped) at the end of the test. `activate=True` points this
    process's INLOOP_API_URL / INLOOP_API_KEY at it meanwhile.
    """
    with _factory() as start:
        yield start


@pytest.fixture(scope="module")
def module_server_factory() -> Iterator[Callable[..., ServerInfo]]:
    """`server_factory` whose servers live until the end of the test module."""
    with _factory() as start:
        yield start


@pytest.fixture
def client(request: pytest.FixtureRequest, server: ServerInfo) -> Any:
    """`inloop.get_client()` for the active server (`fresh_server` when the test uses it)."""
    import inloop

    if "fresh_server" in request.fixturenames:
        request.getfixturevalue("fresh_server")
    return inloop.get_client()


@pytest.fixture
def api(request: pytest.FixtureRequest, server: ServerInfo) -> Iterator[httpx.Client]:
    """An `httpx.Client` on the server's API (`fresh_server` when the test uses it).

    It sends the server's API key when it has one. The timeout leaves room for the API's
    long polls (`wait` up to 30 s).
    """
    target = server
    if "fresh_server" in request.fixturenames:
        target = request.getfixturevalue("fresh_server")
    headers = {"authorization": f"Bearer {target.api_key}"} if target.api_key else {}
    with httpx.Client(base_url=target.api_url, headers=headers, timeout=60) as http:
        yield http


@pytest.fixture(name="wait_for")
def wait_for_fixture() -> Callable[..., Any]:
    return wait_for


def _interruptible() -> None:
    """In the child: Ctrl-C (SIGINT) interrupts, as for a script started at a shell prompt.

    A test run started in the background by a non-interactive shell ignores SIGINT, and
    children inherit that; Python then never installs its KeyboardInterrupt handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def run_flow_script(
    server: ServerInfo, tmp_path: Path
) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """`run_flow_script(source_or_path, *args, env=None, stdin=None)` -> a running Popen.

    A string containing a newline (or not naming an existing file) is source code, written to a
    temp file. The script gets this process's environment plus the active server's `.env` and
    `env`; stdout and stderr are pipes in text mode. Leftover processes are killed at teardown.
    """
    started: list[subprocess.Popen[str]] = []

    def run(
        source_or_path: str | os.PathLike[str],
        *args: str,
        env: Mapping[str, str] | None = None,
        stdin: int | None = None,
    ) -> subprocess.Popen[str]:
        path = Path(source_or_path)
        if isinstance(source_or_path, str) and ("\n" in source_or_path or not path.is_file()):
            path = tmp_path / f"flow_script_{len(started)}.py"
            path.write_text(source_or_path)
        target = active_server() or server
        full_env = {**os.environ, **target.env, **(env or {})}
        process = subprocess.Popen(
            [sys.executable, str(path), *args],
            env=full_env,
            stdin=stdin if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            preexec_fn=_interruptible,
        )
        started.append(process)
        return process

    yield run
    for process in started:
        if process.poll() is None:
            process.kill()
        # communicate() waits and closes every pipe, so no ResourceWarning escapes.
        with contextlib.suppress(Exception):
            process.communicate(timeout=10)
        for pipe in (process.stdin, process.stdout, process.stderr):
            if pipe is not None and not pipe.closed:
                pipe.close()


@pytest.fixture(scope="module")
def oidc_provider() -> Iterator[OidcProvider]:
    """A real OpenID Connect provider process; `.settings()` points a server at it."""
    with running_provider() as provider:
        yield provider


# Fixtures that start a process (a server, a flow script, a runner, a browser): a test using
# none of them is "quick", and scripts/check runs just those.
_PROCESS_FIXTURES = frozenset(
    {
        "server",
        "fresh_server",
        "server_factory",
        "module_server_factory",
        "run_flow_script",
        "spawn",
        "oidc_provider",
        "page",
        "browser",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if not fixtures & _PROCESS_FIXTURES and item.get_closest_marker("browser") is None:
            item.add_marker(pytest.mark.quick)

