"""Migration 0002 gives every existing block an id when a server upgrades an older database."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import create_async_engine

from inloop.blocks.system import JSON
from inloop.server.database.engine import MIGRATIONS
from inloop.server.database.schema import UTCDateTime


def _database_url(server: Any) -> str:
    return server.database_url or f"sqlite+aiosqlite:///{server.home / 'inloop.db'}"


def _on_database(url: str, work: Any) -> Any:
    async def run() -> Any:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                return await conn.run_sync(work)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _migrate(conn: sa.Connection, revision: str, down: bool = False) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    (command.downgrade if down else command.upgrade)(config, revision)


def test_an_older_database_upgrades_and_its_blocks_get_distinct_ids(fresh_server: Any) -> None:
    fresh_server.stop()
    url = _database_url(fresh_server)
    names = [f"old-{n}" for n in range(3)]

    def back_to_0001_with_blocks(conn: sa.Connection) -> None:
        _migrate(conn, "0001", down=True)
        blocks = sa.table(
            "blocks", sa.column("block_type"), sa.column("name"), sa.column("value", sa.JSON()),
            sa.column("created", UTCDateTime()), sa.column("updated", UTCDateTime()),
        )
        now = datetime.now(UTC)
        for name in names:
            conn.execute(blocks.insert().values(
                block_type="json", name=name, value=[name], created=now, updated=now))

    _on_database(url, back_to_0001_with_blocks)
    fresh_server.start()  # the server migrates to head on start

    ids = []
    for name in names:
        assert JSON.load(name).value == [name]
        block_id = JSON(value=["new"]).save(name, overwrite=True)
        assert isinstance(block_id, uuid.UUID)
        ids.append(block_id)
    assert len(set(ids)) == len(names)
    assert JSON(value=1).save("brand-new") not in ids
