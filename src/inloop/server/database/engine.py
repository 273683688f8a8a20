"""The database handle: engine, transactions that publish wake-up topics, migrations."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from inloop.server.wakeups import CHANNEL, PostgresListener, WakeupHub

__all__ = ["Database", "Tx"]

MIGRATIONS = Path(__file__).parent / "migrations"
READ_ONLY = "inloop_read_only"


class Tx:
    """A connection inside a transaction, plus the topics to publish once it commits."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.topics: set[str] = set()

    def notify(self, *topics: str) -> None:
        self.topics.update(topics)

    async def execute(self, statement: Any, params: Any = None) -> sa.CursorResult[Any]:
        result: sa.CursorResult[Any] = await self.conn.execute(statement, params)
        return result


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.hub = WakeupHub()
        self.is_sqlite = url.startswith("sqlite")
        self.is_postgres = url.startswith("postgresql")
        self.engine = self._create_engine(url)
        self._listener: PostgresListener | None = None

    @property
    def dialect_name(self) -> str:
        return "sqlite" if self.is_sqlite else "postgresql" if self.is_postgres else "other"

    def _create_engine(self, url: str) -> AsyncEngine:
        if not self.is_sqlite:
            return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # One connection: SQLite has a single writer anyway, and queueing in asyncio is cheaper
        # and fairer than SQLite's sleeping busy handler. BEGIN IMMEDIATE keeps other processes
        # that open the same file from deadlocking with us on lock upgrades.
        # Transactions are explicit (BEGIN IMMEDIATE ... COMMIT), and reads run in SQLite's
        # autocommit mode, so there is nothing to reset when a connection goes back to the pool;
        # each reset would cost a round trip to aiosqlite's thread.
        engine = create_async_engine(
            url, pool_size=1, max_overflow=0, pool_timeout=60, pool_reset_on_return=None
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            if not conn.get_execution_options().get(READ_ONLY):
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        async with self.engine.begin() as conn:
            tx = Tx(conn)
            yield tx
            if tx.topics and self.is_postgres:
                # Delivered by PostgreSQL at commit, to every replica's listener.
                await conn.execute(
                    sa.select(sa.func.pg_notify(CHANNEL, ",".join(sorted(tx.topics))))
                )
        if tx.topics:
            self.hub.notify(tx.topics)

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads only: on SQLite each statement sees the latest commit."""
        async with self.engine.connect() as conn:
            if self.is_sqlite:
                await conn.execution_options(**{READ_ONLY: True})
            yield conn

    async def start(self) -> None:
        await self.migrate()
        if self.is_postgres:
            dsn = sa.engine.make_url(self.url).set(drivername="postgresql")
            self._listener = PostgresListener(
                dsn.render_as_string(hide_password=False), self.hub
            )
            await self._listener.start()

    async def stop(self) -> None:
        if self._listener is not None:
            await self._listener.stop()
        await self.engine.dispose()

    async def migrate(self) -> None:
        from alembic import command
        from alembic.config import Config

        def upgrade(sync_conn: sa.Connection) -> None:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = sync_conn
            command.upgrade(config, "head")

        async with self.engine.begin() as conn:
            if self.is_postgres:
                # Replicas starting together must not run the same migration twice.
                await conn.execute(sa.text("SELECT pg_advisory_xact_lock(4200)"))
            await conn.run_sync(upgrade)

    async def wait_ready(self) -> None:
        await asyncio.sleep(0)
