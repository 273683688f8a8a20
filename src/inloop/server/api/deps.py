"""What every router needs from the request: the database and who is asking."""

from __future__ import annotations

import time

from fastapi import Request

from inloop.server.database.engine import Database

__all__ = ["actor", "get_db", "paused_grace"]


# Async on purpose: FastAPI runs plain-def dependencies in a worker thread, a hop per request.
async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def actor(request: Request) -> str:
    """Who did this, for the state history: the client's declared user, and how it got in."""
    declared = (request.headers.get("x-inloop-actor") or "").strip()[:100] or "anonymous"
    if request.app.state.settings.api_key:
        return f"{declared} (api key)"
    return declared


async def paused_grace(request: Request) -> float | None:
    """After how many silent seconds a paused run's process counts as gone.

    None while this server is younger than that grace: a live process had no server to beat to
    while it was down, and gets one grace period to check in again.
    """
    grace: float = request.app.state.settings.paused_heartbeat_grace_seconds
    started: float = request.app.state.started_at
    return grace if time.monotonic() - started > grace else None
