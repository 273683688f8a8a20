"""Migration 0012 upgrades a database that has runs: cursors and timeout answers work after it."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import create_async_engine

from inloop.server.database.engine import MIGRATIONS


def downgrade_to(server: Any, revision: str) -> list[str]:
    """Downgrade the stopped server's database; return the tables left."""
    url = server.database_url or f"sqlite+aiosqlite:///{server.home / 'inloop.db'}"

    def work(conn: sa.Connection) -> list[str]:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        command.downgrade(config, revision)
        return sa.inspect(conn).get_table_names()

    async def run() -> list[str]:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                return await conn.run_sync(work)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_a_database_at_0006_upgrades_and_keeps_its_runs(fresh_server: Any) -> None:
    with httpx.Client(base_url=fresh_server.api_url, timeout=30) as http:
        run_id = http.post("/flow_runs", json={"flow_name": "old", "state": "RUNNING"}).json()["id"]
    fresh_server.stop()

    assert "receive_cursors" not in downgrade_to(fresh_server, "0006")
    fresh_server.start()  # migrates to head

    with httpx.Client(base_url=fresh_server.api_url, timeout=30) as http:
        assert http.get(f"/flow_runs/{run_id}").json()["state"]["type"] == "RUNNING"
        moved = http.put(f"/flow_runs/{run_id}/cursors/names", json={"after_seq": 3})
        assert moved.json()["after_seq"] == 3
        paused = http.post(f"/flow_runs/{run_id}/pause", json={
            "key": "k", "timeout": 60, "on_timeout": "defaults"})
        assert paused.status_code == 200, paused.text
