"""The people side of the client: users, API tokens, resume links and the event log.

A mixin of `InloopClient` (kept apart so client.py stays about runs and inputs); every method
goes through the client's one `_send`, so retries and errors behave the same everywhere.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from inloop._dual import dual
from inloop.schemas import Event

__all__ = ["LONG_POLL_SLACK", "PeopleMethods"]

# A long poll's HTTP timeout is its wait plus this, so the server answers before we give up.
LONG_POLL_SLACK = 15.0


class PeopleMethods:
    """Users, tokens, resume links and events; needs the host class's `_send`."""

    _send: Callable[..., Awaitable[Any]]  # InloopClient's one way to the server

    # --- users and API tokens (answers are the API's JSON objects) -----------------------------
    @dual
    async def read_session(self) -> dict[str, Any]:
        """Who the server takes this client for: mode, actor, kind, role and groups."""
        result: dict[str, Any] = await self._send("GET", "/session")
        return result

    @dual
    async def create_user(
        self,
        name: str,
        role: str,
        groups: Sequence[str] = (),
        email: str | None = None,
        password: str | None = None,
    ) -> dict[str, Any]:
        body = {"name": name, "role": role, "groups": list(groups), "email": email}
        if password is not None:
            body["password"] = password
        result: dict[str, Any] = await self._send("POST", "/users", json=body)
        return result

    @dual
    async def read_users(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._send("GET", "/users")
        return result

    @dual
    async def update_user(self, name: str, **changes: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self._send("PATCH", f"/users/{name}", json=changes)
        return result

    @dual
    async def create_token(
        self, user: str | None = None, name: str = "token", expires_in: int | None = None
    ) -> dict[str, Any]:
        """A new API token; its secret is in the answer's `token`, and nowhere else, ever."""
        body = {"user": user, "name": name, "expires_in": expires_in}
        result: dict[str, Any] = await self._send("POST", "/tokens", json=body)
        return result

    @dual
    async def read_tokens(self, user: str | None = None) -> list[dict[str, Any]]:
        params = {"user": user} if user is not None else None
        result: list[dict[str, Any]] = await self._send("GET", "/tokens", params=params)
        return result

    @dual
    async def revoke_token(self, token_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._send("DELETE", f"/tokens/{token_id}")
        return result

    # --- signed resume links ----------------------------------------------------------------
    @dual
    async def create_resume_link(
        self, flow_run_id: UUID | str, recipient: str, expires_in: float | None = None
    ) -> dict[str, Any]:
        """A link that answers the run's current pause once: {id, url, expires_at, ...}."""
        body: dict[str, Any] = {"recipient": recipient}
        if expires_in is not None:
            body["expires_in"] = int(expires_in)
        result: dict[str, Any] = await self._send(
            "POST", f"/flow_runs/{flow_run_id}/links", json=body
        )
        return result

    # --- events --------------------------------------------------------------------------------
    @dual
    async def read_events(
        self,
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
        found = await self._send("GET", "/events", params=params, timeout=wait + LONG_POLL_SLACK)
        return [Event.model_validate(item) for item in found]
