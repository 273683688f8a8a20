"""What every router needs from the request: the database and who is asking."""

from __future__ import annotations

from fastapi import Request

from inloop.server.database.engine import Database
from inloop.server.run_tokens import RUN_TOKEN_HEADER, RunTokens

__all__ = ["actor", "calling_run", "get_db", "remote_address", "run_tokens"]


# Async on purpose: FastAPI runs plain-def dependencies in a worker thread, a hop per request.
async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def actor(request: Request) -> str:
    """Who did this, for the state history and the events: `api-key` when the shared key let
    the request in, else `local:<the user the client declares>` (open mode)."""
    if request.app.state.settings.api_key:
        return "api-key"
    declared = (request.headers.get("x-inloop-actor") or "").strip()[:100] or "anonymous"
    return f"local:{declared}"


async def remote_address(request: Request) -> str | None:
    """The peer's address, for the events (behind a proxy: the proxy's)."""
    return request.client.host if request.client else None


async def run_tokens(request: Request) -> RunTokens:
    tokens: RunTokens = request.app.state.run_tokens
    return tokens


async def calling_run(request: Request) -> str | None:
    """The flow run this request comes from, proven by its run token; None without a token.

    A token that is present but not genuine is a 401 naming the header, never ignored.
    """
    token = request.headers.get(RUN_TOKEN_HEADER)
    if token is None:
        return None
    tokens: RunTokens = request.app.state.run_tokens
    return tokens.verify(token)
