"""What every router needs from the request: the database and who is asking."""

from __future__ import annotations

from fastapi import Request

from inloop.server.access import Answerer, Principal
from inloop.server.database.engine import Database
from inloop.server.identity import PRINCIPAL_KEY, Identity
from inloop.server.run_tokens import RUN_TOKEN_HEADER, RunTokens
from inloop.server.silence import Hearing

__all__ = [
    "actor",
    "answerer",
    "calling_run",
    "get_db",
    "paused_grace",
    "remote_address",
    "run_tokens",
    "users_mode",
    "validate_timeout",
]


# Async on purpose: FastAPI runs plain-def dependencies in a worker thread, a hop per request.
async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def actor(request: Request) -> str:
    """Who did this, for the state history: the principal IdentityMiddleware resolved.

    Open mode: the client's declared user; shared key: `api-key`; users mode: the user's name;
    a flow run's process with only its run token: `inloop.flow-run.<id>`.
    """
    principal: Principal | None = request.scope.get(PRINCIPAL_KEY)
    return principal.actor if principal is not None else "anonymous"


async def answerer(request: Request) -> Answerer:
    """The caller as `access` (the answer rules) sees them: actor, user name, groups and role."""
    principal: Principal | None = request.scope.get(PRINCIPAL_KEY)
    if principal is None:
        return Answerer("anonymous", None, (), "viewer")
    return Answerer.from_principal(principal)


async def users_mode(request: Request) -> bool:
    """Whether this server has users (assignees are matched only then)."""
    identity: Identity = request.app.state.identity
    return await identity.mode() == "users"


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


async def paused_grace(request: Request) -> float | None:
    """After how many silent seconds a paused run's process counts as gone.

    None while this server has heard heartbeats for less than that (it started, or was stalled,
    more recently: see server/silence): a live process could not beat to it meanwhile, and
    gets one grace period to check in again.
    """
    grace: float = request.app.state.settings.paused_heartbeat_grace_seconds
    hearing: Hearing = request.app.state.hearing
    return grace if hearing.heard_for() > grace else None


async def validate_timeout(request: Request) -> float:
    """How long a resume waits for a paused flow's verdict (INLOOP_VALIDATE_TIMEOUT_SECONDS)."""
    seconds: float = request.app.state.settings.validate_timeout_seconds
    return seconds
