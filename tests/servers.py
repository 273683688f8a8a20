"""Real inloop servers for tests: start, stop, fresh PostgreSQL databases, the active server.

A module of its own, not conftest.py: with a conftest.py in several folders, `from conftest import
...` resolves to whichever was imported first, so helpers tests import live here
(`from tests.servers import ...`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.server_starts import record_server_start

T = TypeVar("T")

HEALTH_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
TEST_DATABASE_URL = os.environ.get("INLOOP_TEST_DATABASE_URL") or None
# Settings a test process might inherit and that must not leak into the servers we start.
INLOOP_VARS = (
    "INLOOP_API_URL",
    "INLOOP_API_KEY",
    "INLOOP_DATABASE_URL",
    "INLOOP_UI_URL",
    "INLOOP_MAX_REQUEST_BYTES",
    "INLOOP_SERVER_HOST",
    "INLOOP_SERVER_PORT",
    "INLOOP_ALLOWED_HOSTS",
    "INLOOP_CORS_ORIGINS",
    "INLOOP_RUN_TOKEN",
    "INLOOP_OIDC_ISSUER",
    "INLOOP_OIDC_CLIENT_ID",
    "INLOOP_OIDC_CLIENT_SECRET",
    "INLOOP_OIDC_SCOPES",
    "INLOOP_OIDC_GROUPS_CLAIM",
    "INLOOP_OIDC_DEFAULT_ROLE",
    "INLOOP_OIDC_REDIRECT_URL",
    "INLOOP_OIDC_LINK_BY_EMAIL",
    "INLOOP_AUTOMATION_ALLOW",
)


# --- helpers -------------------------------------------------------------------------------------



def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def is_postgres(url: str | None) -> bool:
    return url is not None and url.startswith("postgresql")


def start_server_process(
    env: Mapping[str, str], port: int, host: str | None = "127.0.0.1", log: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start `python -m inloop server start` (host None: leave the server's default).

    Its stdout and stderr go to `log` when given.
    """
    argv = [sys.executable, "-m", "inloop", "server", "start", "--port", str(port)]
    if host is not None:
        argv += ["--host", host]
    record_server_start(port)
    output: Any = subprocess.DEVNULL
    if log is not None:
        output = open(log, "ab")  # handed to the child, closed below
    try:
        return subprocess.Popen(
            argv,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            start_new_session=True,
        )
    finally:
        if log is not None:
            output.close()


def http_get(url: str, timeout: float = 2.0, headers: Mapping[str, str] | None = None) -> Any:
    """GET `url` and return (status, parsed JSON or text), without raising on HTTP errors."""
    request = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            status, body = exc.code, exc.read()
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode(errors="replace")


# --- PostgreSQL: one fresh database per server -------------------------------------------------


def _asyncpg_dsn(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _admin(sql: str) -> None:
    import asyncpg

    assert TEST_DATABASE_URL is not None

    async def run() -> None:
        conn = await asyncpg.connect(_asyncpg_dsn(TEST_DATABASE_URL))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    # On a thread of its own: the caller may be inside pytest-asyncio's event loop.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


def _database_url(name: str) -> str:
    from sqlalchemy.engine import make_url

    assert TEST_DATABASE_URL is not None
    return make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)


def _migrations_fingerprint() -> str:
    """A short hash of the migration files: a template from older migrations is never reused."""
    from inloop.server.database import engine

    digest = hashlib.sha256()
    for path in sorted(Path(engine.MIGRATIONS).rglob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


_template_name: str | None = None


def _migrated_template() -> str:
    """The name of a database migrated to head, built once and then cloned for every server.

    Migrating a new PostgreSQL database takes seconds; `CREATE DATABASE ... TEMPLATE` copies one
    in a fraction of that. Parallel test workers share the template: an advisory lock on the
    admin connection lets one of them build it while the others wait.
    """
    global _template_name
    if _template_name is not None:
        return _template_name
    import asyncpg

    assert TEST_DATABASE_URL is not None
    name = f"inloop_template_{_migrations_fingerprint()}"

    async def build() -> None:
        from inloop.server.database.engine import Database

        conn = await asyncpg.connect(_asyncpg_dsn(TEST_DATABASE_URL))
        try:
            await conn.execute("SELECT pg_advisory_lock(4201)")
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not exists:
                building = f"{name}_building_{uuid.uuid4().hex[:6]}"
                await conn.execute(f'CREATE DATABASE "{building}"')
                database = Database(_database_url(building))
                try:
                    await database.migrate()
                finally:
                    await database.stop()
                # Renamed only once complete: a crash mid-build never leaves a half-made template.
                await conn.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
        finally:
            await conn.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, build()).result()
    _template_name = name
    return name


def create_test_database(*, migrated: bool = True) -> str:
    """A new PostgreSQL database (migrated to head unless `migrated=False`); returns its URL."""
    name = f"inloop_test_{uuid.uuid4().hex[:12]}"
    if migrated:
        _admin(f'CREATE DATABASE "{name}" TEMPLATE "{_migrated_template()}"')
    else:
        _admin(f'CREATE DATABASE "{name}"')
    return _database_url(name)


def drop_test_database(url: str) -> None:
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- the server --------------------------------------------------------------------------------


@dataclass
class ServerInfo:
    """A running inloop server (a subprocess) on its own port, home and database."""

    port: int
    home: Path
    database_url: str | None = None
    settings: dict[str, str] = field(default_factory=dict)
    host: str | None = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.home / "server.log"

    @property
    def api_key(self) -> str | None:
        return self.settings.get("INLOOP_API_KEY")

    @property
    def env(self) -> dict[str, str]:
        """What a subprocess (flow script, CLI) needs to talk to this server."""
        env = {"INLOOP_API_URL": self.api_url, "INLOOP_HOME": str(self.home)}
        if self.api_key:
            env["INLOOP_API_KEY"] = self.api_key
        return env

    def server_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in INLOOP_VARS}
        env["INLOOP_HOME"] = str(self.home)
        if self.database_url:
            env["INLOOP_DATABASE_URL"] = self.database_url
        env.update(self.settings)
        return env

    def stderr_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.process = start_server_process(self.server_env(), self.port, self.host, self.log)
        deadline = time.monotonic() + HEALTH_TIMEOUT
        headers = {"authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        while True:
            code = self.process.poll()
            if code is not None:
                pytest.fail(
                    f"inloop server on port {self.port} exited with code {code} before it was "
                    f"healthy; its output:\n{self.stderr_text()}"
                )
            with contextlib.suppress(OSError):
                status, _ = http_get(f"{self.api_url}/health", timeout=1.0, headers=headers)
                if status == 200:
                    return
            if time.monotonic() >= deadline:
                self.stop()
                pytest.fail(
                    f"inloop server on port {self.port} was not healthy within "
                    f"{HEALTH_TIMEOUT:g} s; its output:\n{self.stderr_text()}"
                )
            time.sleep(0.05)

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM, wait, SIGKILL if needed; returns the exit code (None if it never started)."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    def restart(self) -> None:
        """Stop with SIGTERM and start again on the same port, home and database."""
        self.stop()
        self.start()


class _Environ:
    """Set and later restore variables of os.environ (monkeypatch is function-scoped only)."""

    def __init__(self) -> None:
        self._saved: list[tuple[str, str | None]] = []

    def set(self, name: str, value: str | None) -> None:
        self._saved.append((name, os.environ.get(name)))
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value

    def restore(self) -> None:
        while self._saved:
            name, value = self._saved.pop()
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# Servers whose address is in os.environ, innermost last (fresh_server inside server).
_active: list[ServerInfo] = []


@contextlib.contextmanager
def running_server(
    settings: Mapping[str, str] | None = None,
    *,
    activate: bool = True,
    host: str | None = "127.0.0.1",
) -> Iterator[ServerInfo]:
    """Start a server on a free port, a temp home and a fresh database; stop it afterwards.

    `activate` points this process's INLOOP_API_URL (and INLOOP_API_KEY) at it while it runs.
    """
    with tempfile.TemporaryDirectory(prefix="inloop-test-") as home:
        database_url = create_test_database() if is_postgres(TEST_DATABASE_URL) else None
        info = ServerInfo(
            port=free_port(),
            home=Path(home),
            database_url=database_url,
            settings=dict(settings or {}),
            host=host,
        )
        environ = _Environ()
        try:
            info.start()
            if activate:
                environ.set("INLOOP_API_URL", info.api_url)
                environ.set("INLOOP_API_KEY", info.api_key)
                _active.append(info)
            yield info
        finally:
            if info in _active:
                _active.remove(info)
            environ.restore()
            info.stop()
            if database_url:
                drop_test_database(database_url)


def active_server() -> ServerInfo | None:
    return _active[-1] if _active else None


