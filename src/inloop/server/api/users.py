"""Users and their API tokens: admins manage users; everyone manages their own tokens.

The first user switches the server from open (or shared-key) mode to users mode. Who may add
it: in open mode only a request from the server's own machine (loopback), since anyone who can
reach an open server could otherwise lock its owner out; in shared-key mode the key's holder.
It must be an admin, or no one could add the next user.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from inloop.bounds import Text
from inloop.event_kinds import EventKind
from inloop.schemas import (
    GROUP_PATTERN,
    CreatedUser,
    PasswordChange,
    StateType,
    Token,
    TokenCreate,
    TokenWithSecret,
    UpdatedUser,
    User,
    UserCreate,
    UserUpdate,
)
from inloop.server.access import PERMISSIONS, Principal
from inloop.server.api.deps import get_db, remote_address
from inloop.server.api.params import Name
from inloop.server.database.engine import Database, Tx
from inloop.server.database.schema import utcnow
from inloop.server.errors import Conflict, Forbidden, Invalid
from inloop.server.identity import SESSION_COOKIE, Identity, is_loopback
from inloop.server.oidc import Provider
from inloop.server.passwords import PasswordChecks
from inloop.server.permissions import principal, require
from inloop.server.store import events, runs, users

router = APIRouter(tags=["users"])

IN_FLIGHT = [
    StateType.PAUSED, StateType.SUSPENDED, StateType.RUNNING, StateType.PENDING,
    StateType.SCHEDULED,
]


def _check_groups(groups: list[str] | None) -> None:
    for index, group in enumerate(groups or []):
        if not re.match(GROUP_PATTERN, group):
            raise Invalid([{
                "loc": ["body", "groups", index],
                "msg": f"group {group!r} must be letters, digits and . _ @ : - (at most 100)",
                "type": "value_error",
            }])


@router.post("/users", status_code=201, dependencies=[require("users:manage")])
async def create_user(
    body: UserCreate,
    request: Request,
    who: Principal = Depends(principal),
    db: Database = Depends(get_db),
) -> CreatedUser:
    _check_groups(body.groups)
    identity: Identity = request.app.state.identity
    first = not await identity.users_exist()
    if first:
        client = request.client.host if request.client else None
        if who.kind == "local" and not is_loopback(client):
            raise Forbidden(
                f"the first user can only be added from the server's own machine (this "
                f"request came from {client}): run `inloop user add` there, or start the "
                "server with INLOOP_API_KEY and send that key"
            )
        if body.role != "admin":
            raise Invalid([{
                "loc": ["body", "role"],
                "msg": f"the first user must be an admin (got {body.role!r}): with no admin, "
                "no one could add the next user",
                "type": "value_error",
            }])
    remote = await remote_address(request)
    checks: PasswordChecks = request.app.state.passwords
    hashed = await checks.hash(body.password) if body.password is not None else None
    async with db.transaction() as tx:
        created = await users.create_user(
            tx, body.name, body.role, body.groups, body.email, hashed
        )
        await events.record(
            tx, EventKind.USER_CREATED, actor=who.actor, remote=remote,
            details={"user": body.name, "role": body.role, "groups": body.groups,
                     "password": body.password is not None},
        )
        secret = None
        in_flight = None
        if first:
            token, secret = await users.create_token(tx, body.name, "first-admin", None)
            await _token_event(tx, EventKind.TOKEN_CREATED, who, token, remote)
            counted = await runs.count_by_state(tx, IN_FLIGHT)
            in_flight = {state.value: count for state, count in counted.items()}
    identity.users_changed()
    return CreatedUser(**created, token=secret, runs_in_flight=in_flight)


@router.get("/users", dependencies=[require("users:manage")])
async def list_users(db: Database = Depends(get_db)) -> list[User]:
    async with db.read() as conn:
        return [User(**user) for user in await users.list_users(conn)]


@router.get("/users/{name}", dependencies=[require("users:manage")])
async def read_user(name: Name, db: Database = Depends(get_db)) -> User:
    async with db.read() as conn:
        return User(**await users.require_user(conn, name))


@router.patch("/users/{name}", dependencies=[require("users:manage")])
async def update_user(
    name: Name,
    body: UserUpdate,
    request: Request,
    who: Principal = Depends(principal),
    db: Database = Depends(get_db),
) -> UpdatedUser:
    """Change a user. A new password ends the user's other sessions and keeps their API tokens
    unless `revoke_tokens` is true."""
    _check_groups(body.groups)
    changes = body.model_dump(exclude_unset=True)
    new_password = "password" in changes
    password = changes.pop("password", None)
    revoke_tokens = changes.pop("revoke_tokens", False)
    if revoke_tokens and not new_password:
        raise Invalid([{
            "loc": ["body", "revoke_tokens"],
            "msg": "revoke_tokens goes with a new password; to revoke tokens on their own, "
            "use DELETE /api/tokens/{id} (`inloop token revoke ID`)",
            "type": "value_error",
        }])
    linking = "sso_subject" in changes
    sub = changes.pop("sso_subject", None)
    subject = _sso_subject(request, sub) if sub is not None else None
    checks: PasswordChecks = request.app.state.passwords
    hashed = await checks.hash(password) if password is not None else None
    outcome = None
    async with db.transaction() as tx:
        before = await users.require_user(tx, name)
        after = await users.update_user(tx, name, changes)
        details: dict[str, Any] = {"user": name}
        if linking:
            after = await users.bind_subject(tx, name, subject)
            details["sso_subject"] = subject
        if new_password:
            # The session making the change (an admin changing her own password) stays.
            outcome = await users.set_password(
                tx, name, hashed, keep_session=request.cookies.get(SESSION_COOKIE),
                revoke_tokens=revoke_tokens,
            )
            after = await users.require_user(tx, name)
        details.update(_changed(before, after, changes, outcome))
        await events.record(
            tx, _user_event(before, after), actor=who.actor,
            remote=await remote_address(request), details=details,
        )
    change = PasswordChange(**outcome) if outcome is not None else None
    return UpdatedUser(**after, password_change=change)


def _sso_subject(request: Request, sub: str) -> str:
    """The stored form of a subject an admin links: "<issuer> <sub>", as sign-ins bind it."""
    provider: Provider | None = request.app.state.oidc
    if provider is None:
        raise Conflict(
            "single sign-on is not configured on this server, so there is no provider to link "
            "to: set INLOOP_OIDC_ISSUER, INLOOP_OIDC_CLIENT_ID and INLOOP_OIDC_CLIENT_SECRET"
        )
    return f"{provider.config.issuer} {sub}"


def _user_event(before: dict[str, Any], after: dict[str, Any]) -> EventKind:
    """`user.disabled` / `user.enabled` when that flipped (the audit's key question), else
    `user.changed`."""
    if after["disabled"] != before["disabled"]:
        return EventKind.USER_DISABLED if after["disabled"] else EventKind.USER_ENABLED
    return EventKind.USER_CHANGED


def _changed(
    before: dict[str, Any],
    after: dict[str, Any],
    changes: dict[str, Any],
    password: dict[str, int] | None,
) -> dict[str, Any]:
    """What a PATCH changed, as {field: [old, new]}; a password only as `password_changed`,
    with the sessions it ended and the tokens it revoked."""
    diff: dict[str, Any] = {
        key: [before[key], after[key]]
        for key in ("role", "groups", "email", "disabled")
        if before[key] != after[key]
    }
    if password is not None:
        diff["password_changed"] = True
        diff["sessions_ended"] = password["sessions_ended"]
        diff["tokens_revoked"] = password["tokens_revoked"]
    return diff


async def _token_event(
    tx: Tx, kind: EventKind, who: Principal, token: dict[str, Any], remote: str | None
) -> None:
    await events.record(
        tx, kind, actor=who.actor, remote=remote,
        details={"token_id": token["id"], "user": token["user"], "name": token["name"]},
    )


def _may_manage_tokens_of(who: Principal, user: str) -> None:
    if who.kind == "user" and who.name == user:
        return
    if who.role not in PERMISSIONS["users:manage"]:
        raise Forbidden(
            f"permission 'users:manage' denied to {who.name!r} (role {who.role!r}): you may "
            f"manage only your own tokens, not {user!r}'s"
        )


def _token_owner(who: Principal, user: str | None) -> str:
    if user is not None:
        return user
    if who.kind == "user":
        return who.name
    raise Invalid([{
        "loc": ["body", "user"],
        "msg": f"say whose token this is: {who.name!r} is not a user (--user NAME)",
        "type": "missing",
    }])


@router.post("/tokens", status_code=201, dependencies=[require("tokens:own")])
async def create_token(
    body: TokenCreate,
    request: Request,
    who: Principal = Depends(principal),
    db: Database = Depends(get_db),
) -> TokenWithSecret:
    owner = _token_owner(who, body.user)
    _may_manage_tokens_of(who, owner)
    expires = utcnow() + timedelta(seconds=body.expires_in) if body.expires_in else None
    async with db.transaction() as tx:
        token, secret = await users.create_token(tx, owner, body.name, expires)
        await _token_event(tx, EventKind.TOKEN_CREATED, who, token, await remote_address(request))
    return TokenWithSecret(**token, token=secret)


@router.get("/tokens", dependencies=[require("tokens:own")])
async def list_tokens(
    user: Annotated[Text | None, Query(max_length=100)] = None,
    who: Principal = Depends(principal),
    db: Database = Depends(get_db),
) -> list[Token]:
    if user is None and who.kind == "user" and who.role != "admin":
        user = who.name
    if user is not None:
        _may_manage_tokens_of(who, user)
    async with db.read() as conn:
        return [Token(**token) for token in await users.list_tokens(conn, user)]


@router.delete("/tokens/{token_id}", dependencies=[require("tokens:own")])
async def revoke_token(
    token_id: Annotated[Text, Path(max_length=100)],
    request: Request,
    who: Principal = Depends(principal),
    db: Database = Depends(get_db),
) -> Token:
    async with db.transaction() as tx:
        token = await users.read_token(tx, token_id)
        _may_manage_tokens_of(who, token["user"])
        revoked = await users.revoke_token(tx, token_id)
        if token["revoked"] is None:  # revoking twice changes nothing: no second event
            remote = await remote_address(request)
            await _token_event(tx, EventKind.TOKEN_REVOKED, who, revoked, remote)
    return Token(**revoked)
