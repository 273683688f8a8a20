"""The migration history and schema.py describe the same database, on SQLite and PostgreSQL.

Tables are added by several hands; a column in schema.py but in no migration (or the other way
round) would only show as a failure on an upgraded database in production.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from inloop.server.database.engine import Database
from inloop.server.database.schema import metadata
from tests.servers import TEST_DATABASE_URL, create_test_database, drop_test_database


def _differences(sync_conn: sa.Connection) -> list[object]:
    context = MigrationContext.configure(sync_conn, opts={"compare_type": False})
    return list(compare_metadata(context, metadata))


async def test_upgraded_database_matches_schema_module(tmp_path: Path) -> None:
    # An empty database: the migrations themselves are what this test checks.
    sqlite_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    url = create_test_database(migrated=False) if TEST_DATABASE_URL else sqlite_url
    db = Database(url)
    try:
        await db.migrate()
        if TEST_DATABASE_URL:
            engine = create_async_engine(url)
            async with engine.connect() as conn:
                found = await conn.run_sync(_differences)
            await engine.dispose()
        else:
            sync_engine = sa.create_engine(url)
            with sync_engine.connect() as sync_conn:
                found = _differences(sync_conn)
            sync_engine.dispose()
        assert found == [], "schema.py and the migrations disagree:\n" + "\n".join(
            map(repr, found)
        )
    finally:
        await db.stop()
        if TEST_DATABASE_URL:
            drop_test_database(url)
