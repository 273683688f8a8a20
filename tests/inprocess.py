"""inloop's app inside the test process: the API without a server subprocess, and the stores.

`create_app(settings)` runs on an event loop of its own, in a thread, with its lifespan (database,
reaper, dispatcher) entered once; a sync `httpx.Client` hands each request to that loop through
`httpx.ASGITransport`. This is the idea of Starlette's TestClient, built on httpx alone (the
TestClient of this Starlette wants the `httpx2` package). Concurrent requests from several
threads are served concurrently, as by a real server.

What the in-process layer does not prove: anything about the server's own process (its port and
bind address, signals, restarts, uvicorn's handling of a socket) and anything that needs a URL
(flows, `inloop.get_client()`, the CLI). Tests of those keep a subprocess server (tests/servers.py).

Settings are built from the arguments alone, never from the test process's INLOOP_* variables,
on a temp home with its own SQLite database, or with INLOOP_TEST_DATABASE_URL set, a fresh
PostgreSQL database cloned from the migrated template and dropped afterwards. Every app has its
own database, so pytest-xdist workers never share one.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from inloop.server.app import create_app
from inloop.server.database.engine import Database
from inloop.settings import Settings
from tests.servers import TEST_DATABASE_URL, create_test_database, drop_test_database, is_postgres

# The app answers to the address it believes it is bound to (its Host check); no socket is opened.
HOST = "127.0.0.1"
PORT = 4200
LIFESPAN_TIMEOUT = 60.0


class ExplicitSettings(Settings):
    """Settings from keyword arguments only: no INLOOP_* variable of the test process leaks in."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


@contextlib.contextmanager
def temporary_database() -> Iterator[tuple[Path, str | None]]:
    """A temp home and the URL of a fresh database (None: SQLite in that home)."""
    with tempfile.TemporaryDirectory(prefix="inloop-inprocess-") as home:
        url = create_test_database() if is_postgres(TEST_DATABASE_URL) else None
        try:
            yield Path(home), url
        finally:
            if url is not None:
                drop_test_database(url)


class _LoopThread:
    """An event loop in a thread, running the app's lifespan until `close()`."""

    def __init__(self, app: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="inloop-app")
        self._thread.start()
        self._stop: asyncio.Event | None = None
        started = asyncio.run_coroutine_threadsafe(self._enter(app), self.loop)
        try:
            self._lifespan = started.result(LIFESPAN_TIMEOUT)
        except BaseException:
            self._halt()
            raise

    async def _enter(self, app: Any) -> asyncio.Task[None]:
        self._stop = asyncio.Event()
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def serve() -> None:
            # One task enters and leaves the lifespan, as a server does.
            try:
                async with app.router.lifespan_context(app):
                    ready.set_result(None)
                    assert self._stop is not None
                    await self._stop.wait()
            except BaseException as exc:
                if not ready.done():
                    ready.set_exception(exc)
                raise

        task = asyncio.create_task(serve(), name="inloop-app-lifespan")
        await ready
        return task

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def close(self) -> None:
        async def leave() -> None:
            assert self._stop is not None
            self._stop.set()
            await self._lifespan

        try:
            asyncio.run_coroutine_threadsafe(leave(), self.loop).result(LIFESPAN_TIMEOUT)
        finally:
            self._halt()

    def _halt(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


class _Transport(httpx.BaseTransport):
    """A sync transport handing each request to the app's loop (httpx.ASGITransport is async).

    It owns that loop: closing the transport (as `with client:` does) ends the app's lifespan.
    """

    def __init__(self, app: Any) -> None:
        self._asgi = httpx.ASGITransport(app)
        self._loop = _LoopThread(app)
        self._closed = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        # A streamed request body (a generator) is read here, on the caller's thread; the app
        # gets it as one chunk, with the caller's headers (no content-length for a stream).
        body = request.read()
        relay = httpx.Request(
            request.method, request.url, headers=request.headers, content=body,
            extensions=request.extensions,
        )
        return self.run(self._relay(relay))  # type: ignore[no-any-return]

    async def _relay(self, request: httpx.Request) -> httpx.Response:
        response = await self._asgi.handle_async_request(request)
        content = await response.aread()
        await response.aclose()
        return httpx.Response(response.status_code, headers=response.headers, content=content)

    def run(self, coroutine: Any) -> Any:
        return self._loop.run(coroutine)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._loop.close()


class AppClient(httpx.Client):
    """An `httpx.Client` on an in-process app; relative URLs are under /api, like `api_url`."""

    def __init__(self, settings: Settings, *, headers: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.app = create_app(settings)
        self._app_transport = _Transport(self.app)
        super().__init__(base_url=self.api_url, transport=self._app_transport, headers=headers)

    @property
    def ui_url(self) -> str:
        return f"http://{HOST}:{PORT}"

    @property
    def api_url(self) -> str:
        return f"{self.ui_url}/api"

    @property
    def api_key(self) -> str | None:
        return self.settings.api_key

    @property
    def database_url(self) -> str:
        return self.settings.resolved_database_url

    @property
    def db(self) -> Database:
        """The app's own Database (use it through `run`, on the app's loop)."""
        db: Database = self.app.state.db
        return db

    def run(self, coroutine: Any) -> Any:
        """Await `coroutine` on the app's loop (e.g. a store call on `self.db`)."""
        return self._app_transport.run(coroutine)


@contextlib.contextmanager
def running_app(**settings: Any) -> Iterator[AppClient]:
    """An app on a fresh database; `settings` are Settings fields (`api_key="k"`, ...)."""
    with temporary_database() as (home, url):
        fields = {"home": home, "database_url": url, "server_host": HOST, "server_port": PORT}
        with AppClient(ExplicitSettings(**{**fields, **settings})) as client:
            yield client


@contextlib.asynccontextmanager
async def running_async_app(**settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The same on the caller's event loop: an `httpx.AsyncClient` (relative URLs under /api)."""
    with temporary_database() as (home, url):
        fields = {"home": home, "database_url": url, "server_host": HOST, "server_port": PORT}
        app = create_app(ExplicitSettings(**{**fields, **settings}))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app)
            async with httpx.AsyncClient(
                transport=transport, base_url=f"http://{HOST}:{PORT}/api"
            ) as client:
                yield client


@contextlib.asynccontextmanager
async def started_database() -> AsyncIterator[Database]:
    """A started (migrated) Database on a fresh database, for store-level tests."""
    with temporary_database() as (home, url):
        db = Database(url or f"sqlite+aiosqlite:///{home / 'inloop.db'}")
        await db.start()
        try:
            yield db
        finally:
            await db.stop()


# --- fixtures (registered in tests/conftest.py) ------------------------------------------------


@contextlib.contextmanager
def _factory() -> Iterator[Callable[..., AppClient]]:
    with contextlib.ExitStack() as stack:

        def start(**settings: Any) -> AppClient:
            return stack.enter_context(running_app(**settings))

        yield start


@pytest.fixture(scope="module")
def app_client() -> Iterator[AppClient]:
    """The API in this process, shared by the tests of a module (the in-process `server`)."""
    with running_app() as client:
        yield client


@pytest.fixture
def fresh_app_client() -> Iterator[AppClient]:
    """The same, function-scoped, on an empty database."""
    with running_app() as client:
        yield client


@pytest.fixture
def app_factory() -> Iterator[Callable[..., AppClient]]:
    """`app_factory(**settings)`: one more in-process app, e.g. `app_factory(api_key="k")`."""
    with _factory() as start:
        yield start


@pytest.fixture(scope="module")
def module_app_factory() -> Iterator[Callable[..., AppClient]]:
    """`app_factory` whose apps live until the end of the test module."""
    with _factory() as start:
        yield start


@pytest.fixture
async def async_app_client() -> AsyncIterator[httpx.AsyncClient]:
    """The API on the test's own event loop, through `httpx.ASGITransport`."""
    async with running_async_app() as client:
        yield client


@pytest.fixture
async def store() -> AsyncIterator[Database]:
    """A started Database on a fresh database (SQLite, or PostgreSQL from the template)."""
    async with started_database() as db:
        yield db
