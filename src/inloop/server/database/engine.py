"""The database handle: connections, transactions that publish wake-up topics, migrations.

Stores talk to a `Connection`: `await conn.execute(statement)` and `conn.dialect`.

- PostgreSQL: an asyncpg pool; each statement is a network round trip anyway.
- SQLite: one connection, used inline on the event loop's thread, one holder at a time (an
  asyncio lock). Its statements take tens of microseconds from the page cache, much less than
  handing each one to a helper thread, and SQLite has a single writer in any case.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from inloop.bounds import readable_json
from inloop.server.wakeups import CHANNEL, PostgresListener, WakeupHub

__all__ = ["Connection", "Database", "EventHook", "EventsWritten", "Tx"]

MIGRATIONS = Path(__file__).parent / "migrations"
READ_ONLY = "inloop_read_only"


def load_stored_json(text: str) -> Any:
    """Parse a stored JSON column so that any row, however it got there, can be served."""
    try:
        return readable_json(json.loads(text))
    except RecursionError:
        # Nested past what Python's parser can follow: only possible for rows written by
        # hand or by an old version; a read must still answer.
        return f"<cut: nested too deeply to read ({len(text)} bytes)>"


class Connection:
    """What a store needs from the database: run a statement, know the dialect."""

    dialect: sa.Dialect

    async def execute(self, statement: Any, params: Any = None) -> sa.CursorResult[Any]:
        raise NotImplementedError


class _Inline(Connection):
    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn
        self.dialect = conn.dialect

    async def execute(self, statement: Any, params: Any = None) -> sa.CursorResult[Any]:
        return self._conn.execute(statement, params)


class _Async(Connection):
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self.dialect = conn.dialect

    async def execute(self, statement: Any, params: Any = None) -> sa.CursorResult[Any]:
        result: sa.CursorResult[Any] = await self._conn.execute(statement, params)
        return result


class Tx(Connection):
    """A connection inside a transaction, plus the topics to publish once it commits."""

    def __init__(self, conn: Connection, event_hooks: Sequence[EventHook] = ()) -> None:
        self.conn = conn
        self.dialect = conn.dialect
        self.topics: set[str] = set()
        # Event rows recorded during the transaction; store/events.py writes them at the end,
        # after calling the database's event hooks with them.
        self.events: list[dict[str, Any]] = []
        self.event_hooks = event_hooks
        self._before_commit: list[Callable[[Tx], Awaitable[None]]] = []

    def notify(self, *topics: str) -> None:
        self.topics.update(topics)

    def before_commit(self, hook: Callable[[Tx], Awaitable[None]]) -> None:
        """Run `hook(tx)` once, as the transaction's last statements (skipped on rollback)."""
        if hook not in self._before_commit:
            self._before_commit.append(hook)

    async def _run_before_commit(self) -> None:
        for hook in self._before_commit:
            await hook(self)

    async def execute(self, statement: Any, params: Any = None) -> sa.CursorResult[Any]:
        return await self.conn.execute(statement, params)


# Called in the transaction, with the event rows it is about to write: a hook may write rows of
# its own, and return a follow-up to be called (same transaction) with the events' ids.
EventsWritten = Callable[[Tx, Sequence[int]], Awaitable[None]]
EventHook = Callable[[Tx, Sequence[dict[str, Any]]], Awaitable[EventsWritten | None]]


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.hub = WakeupHub()
        # What must happen with every event this database records (store/events.on_recorded).
        self.event_hooks: list[EventHook] = []
        self.is_sqlite = url.startswith("sqlite")
        self.is_postgres = url.startswith("postgresql")
        self._listener: PostgresListener | None = None
        self._sqlite: sa.Engine | None = None
        self._engine: AsyncEngine | None = None
        self._lock: asyncio.Lock | None = None
        if self.is_sqlite:
            self._sqlite = self._create_sqlite_engine(url)
        else:
            self._engine = create_async_engine(
                url,
                pool_size=10,
                max_overflow=20,
                pool_pre_ping=True,
                json_deserializer=load_stored_json,
            )

    @property
    def dialect_name(self) -> str:
        return "sqlite" if self.is_sqlite else "postgresql" if self.is_postgres else "other"

    @staticmethod
    def _create_sqlite_engine(url: str) -> sa.Engine:
        sync_url = sa.engine.make_url(url).set(drivername="sqlite")
        path = sync_url.database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Transactions are explicit (BEGIN IMMEDIATE ... COMMIT) and reads run in autocommit
        # mode, so a connection going back to the pool has nothing to reset.
        engine = sa.create_engine(
            sync_url,
            poolclass=sa.pool.QueuePool,
            pool_size=1,
            max_overflow=0,
            pool_reset_on_return=None,
            connect_args={"check_same_thread": False},
            json_deserializer=load_stored_json,
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit survives any crash of this process; only an OS crash or
            # power loss can take back the last commits.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            # IMMEDIATE: take the write lock up front, so another process sharing the file
            # cannot deadlock with us on a lock upgrade.
            if not conn.get_execution_options().get(READ_ONLY):
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine

    def _sqlite_lock(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        if self._sqlite is not None:
            async with self._sqlite_lock():
                with self._sqlite.begin() as sync_conn:
                    tx = Tx(_Inline(sync_conn), self.event_hooks)
                    yield tx
                    await tx._run_before_commit()
        else:
            assert self._engine is not None
            async with self._engine.begin() as conn:
                tx = Tx(_Async(conn), self.event_hooks)
                yield tx
                await tx._run_before_commit()
                if tx.topics:
                    # Delivered by PostgreSQL at commit, to every replica's listener.
                    await conn.execute(
                        sa.select(sa.func.pg_notify(CHANNEL, ",".join(sorted(tx.topics))))
                    )
        if tx.topics:
            self.hub.notify(tx.topics)

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[Connection]:
        """A connection for reads; every statement sees the latest commit."""
        if self._sqlite is not None:
            async with self._sqlite_lock():
                with self._sqlite.connect() as sync_conn:
                    sync_conn = sync_conn.execution_options(**{READ_ONLY: True})
                    yield _Inline(sync_conn)
        else:
            assert self._engine is not None
            async with self._engine.connect() as conn:
                yield _Async(conn)

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
        if self._engine is not None:
            await self._engine.dispose()
        if self._sqlite is not None:
            self._sqlite.dispose()

    async def migrate(self) -> None:
        from alembic import command
        from alembic.config import Config

        def upgrade(sync_conn: sa.Connection) -> None:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = sync_conn
            command.upgrade(config, "head")

        if self._sqlite is not None:
            sqlite = self._sqlite

            def upgrade_sqlite() -> None:
                with sqlite.begin() as conn:
                    upgrade(conn)

            await asyncio.to_thread(upgrade_sqlite)
            return
        assert self._engine is not None
        async with self._engine.begin() as conn:
            # Replicas starting together must not run the same migration twice.
            await conn.execute(sa.text("SELECT pg_advisory_xact_lock(4200)"))
            await conn.run_sync(upgrade)
