"""People: who the server takes this client for, users, API tokens, resume links, what waits
for someone (the inbox), and the event log.

Each function is a method of `InloopClient` (bound there, so `client.read_users()`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from inloop._dual import dual
from inloop.client._http import LONG_POLL_SLACK, BaseClient
from inloop.schemas import (
    CreatedLink,
    CreatedUser,
    Event,
    InboxItem,
    Session,
    Token,
    TokenWithSecret,
    UpdatedUser,
    User,
)

__all__ = [
    "create_resume_link",
    "create_token",
    "create_user",
    "read_events",
    "read_inbox",
    "read_session",
    "read_tokens",
    "read_users",
    "revoke_token",
    "update_user",
]


# --- users and API tokens ------------------------------------------------------------------------
@dual
async def read_session(client: BaseClient) -> Session:
    """Who the server takes this client for: mode, actor, kind, role and groups."""
    return Session.model_validate(await client._send("GET", "/session"))


@dual
async def create_user(
    client: BaseClient,
    name: str,
    role: str,
    groups: Sequence[str] = (),
    email: str | None = None,
    password: str | None = None,
) -> CreatedUser:
    body = {"name": name, "role": role, "groups": list(groups), "email": email}
    if password is not None:
        body["password"] = password
    return CreatedUser.model_validate(await client._send("POST", "/users", json=body))


@dual
async def read_users(client: BaseClient) -> list[User]:
    found = await client._send("GET", "/users")
    return [User.model_validate(item) for item in found]


@dual
async def update_user(client: BaseClient, name: str, **changes: Any) -> UpdatedUser:
    found = await client._send("PATCH", f"/users/{name}", json=changes)
    return UpdatedUser.model_validate(found)


@dual
async def create_token(
    client: BaseClient, user: str | None = None, name: str = "token", expires_in: int | None = None
) -> TokenWithSecret:
    """A new API token; its secret is in the answer's `token`, and nowhere else, ever."""
    body = {"user": user, "name": name, "expires_in": expires_in}
    return TokenWithSecret.model_validate(await client._send("POST", "/tokens", json=body))


@dual
async def read_tokens(client: BaseClient, user: str | None = None) -> list[Token]:
    params = {"user": user} if user is not None else None
    found = await client._send("GET", "/tokens", params=params)
    return [Token.model_validate(item) for item in found]


@dual
async def revoke_token(client: BaseClient, token_id: str) -> Token:
    return Token.model_validate(await client._send("DELETE", f"/tokens/{token_id}"))

# --- signed resume links -------------------------------------------------------------------------
@dual
async def create_resume_link(
    client: BaseClient, flow_run_id: UUID | str, recipient: str, expires_in: float | None = None
) -> CreatedLink:
    """A link that answers the run's current pause once (its `url`, until `expires_at`)."""
    body: dict[str, Any] = {"recipient": recipient}
    if expires_in is not None:
        body["expires_in"] = int(expires_in)
    found = await client._send("POST", f"/flow_runs/{flow_run_id}/links", json=body)
    return CreatedLink.model_validate(found)

# --- the inbox ----------------------------------------------------------------------------------
@dual
async def read_inbox(
    client: BaseClient, limit: int = 50, offset: int = 0, *, all_waiting: bool = False
) -> list[InboxItem]:
    """What waits for the caller (users mode) or for anyone; `all_waiting` (operators,
    admins): every waiting run, each with `can_answer`."""
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    if all_waiting:
        params["all"] = "true"
    found = await client._send("GET", "/inbox", params=params)
    return [InboxItem.model_validate(item) for item in found]


# --- events --------------------------------------------------------------------------------------
@dual
async def read_events(
    client: BaseClient,
    *,
    flow_run_id: UUID | str | None = None,
    kind: str | None = None,
    actor: str | None = None,
    has_actor: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_id: int | None = None,
    before_id: int | None = None,
    newest_first: bool = False,
    limit: int = 100,
    wait: float = 0,
) -> list[Event]:
    """Events matching every filter given (`kind` is a prefix), paged by id."""
    given = {
        "flow_run_id": str(flow_run_id) if flow_run_id else None,
        "kind": kind,
        "actor": actor,
        "has_actor": None if has_actor is None else str(has_actor).lower(),
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "after_id": after_id,
        "before_id": before_id,
        "order": "desc" if newest_first else "asc",
        "limit": limit,
        "wait": wait,
    }
    params = {name: value for name, value in given.items() if value is not None}
    found = await client._send("GET", "/events", params=params, timeout=wait + LONG_POLL_SLACK)
    return [Event.model_validate(item) for item in found]
