"""Migration 0008 on a database with runs in it: a pause made before the columns existed reads
as "no assignees, self-approval allowed, creator unknown", and is answered as before."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import create_async_engine

from inloop.server.database.engine import MIGRATIONS


def test_a_pause_from_before_0008_upgrades_and_is_answered(fresh_server: Any) -> None:
    with httpx.Client(base_url=fresh_server.api_url, timeout=30) as http:
        run = http.post("/flow_runs", json={"flow_name": "older", "state": "RUNNING"}).json()
        paused = http.post(f"/flow_runs/{run['id']}/pause", json={"key": "paused-1"})
        assert paused.status_code == 200, paused.text
    fresh_server.stop()
    url = fresh_server.database_url or f"sqlite+aiosqlite:///{fresh_server.home / 'inloop.db'}"

    async def downgrade_to_0006() -> None:
        def work(conn: sa.Connection) -> None:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = conn
            command.downgrade(config, "0006")

        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(work)
                columns = await conn.run_sync(
                    lambda c: {col["name"] for col in sa.inspect(c).get_columns("flow_runs")}
                )
            assert not columns & {"created_by", "pause_assignees", "pause_allow_self_approval"}
        finally:
            await engine.dispose()

    asyncio.run(downgrade_to_0006())
    fresh_server.start()  # migrates to head again: 0008 adds the columns, empty
    with httpx.Client(base_url=fresh_server.api_url, timeout=30) as http:
        found = http.get(f"/flow_runs/{run['id']}").json()
        assert found["created_by"] is None
        assert found["pause"]["assignees"] == []
        assert found["pause"]["allow_self_approval"] is True
        resumed = http.post(f"/flow_runs/{run['id']}/resume")
        assert resumed.status_code == 200, resumed.text
