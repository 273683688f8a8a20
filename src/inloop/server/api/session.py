"""UI sign-in: a server-side session behind an HttpOnly cookie.

The cookie holds only a random id; the `sessions` table says whose it is and until when, so
signing out (or disabling the user) ends it on every replica at once.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Request, Response

from inloop.event_kinds import EventKind
from inloop.schemas import Session, SignIn
from inloop.server.access import Principal
from inloop.server.api.deps import get_db, remote_address
from inloop.server.api.responses import errors
from inloop.server.database.engine import Database
from inloop.server.database.schema import utcnow
from inloop.server.errors import Conflict, Unauthorized
from inloop.server.identity import PRINCIPAL_KEY, SESSION_COOKIE, Identity, Mode
from inloop.server.passwords import PasswordChecks
from inloop.server.store import events, users
from inloop.server.throttle import AddressFailures, Backoff
from inloop.settings import Settings

router = APIRouter(prefix="/session", tags=["session"])

SESSION_LIFETIME = timedelta(days=7)


def _describe(request: Request, mode: Mode, who: Principal | None) -> Session:
    sso = request.app.state.oidc is not None
    if who is None:
        return Session(mode=mode, sso=sso)
    return Session(
        mode=mode, actor=who.actor, kind=who.kind, role=who.role, groups=list(who.groups),
        sso=sso,
    )


def set_session_cookie(request: Request, response: Response, session_id: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        # Behind a TLS-terminating proxy, uvicorn takes the scheme from X-Forwarded-Proto.
        secure=request.url.scheme == "https",
    )


@router.get("")
async def read_session(request: Request) -> Session:
    """Which mode the server is in, and who this request is signed in as (if anyone)."""
    identity: Identity = request.app.state.identity
    return _describe(request, await identity.mode(), request.scope.get(PRINCIPAL_KEY))


@router.post("", responses=errors(401, 409, 429))
async def sign_in(
    body: SignIn, request: Request, response: Response, db: Database = Depends(get_db)
) -> Session:
    """Sign in with a password. After a few failures for one name or from one address, further
    attempts are a 429 with Retry-After until the wait (doubling per failure) is over."""
    identity: Identity = request.app.state.identity
    mode = await identity.mode()
    if mode != "users":
        raise Conflict(
            f"this server has no users to sign in as (mode: {mode}); add one with "
            "`inloop user add NAME --role admin --password` on the server's machine"
        )
    settings: Settings = request.app.state.settings
    addresses: AddressFailures = request.app.state.address_failures
    checks: PasswordChecks = request.app.state.passwords
    remote = await remote_address(request)
    addresses.check(remote)
    # Short reads, then the slow check with no transaction open, then a short write.
    now = utcnow()
    async with db.read() as conn:
        failures, latest = await events.failed_sign_ins(
            conn, body.name, now - timedelta(seconds=settings.signin_window_seconds)
        )
        Backoff.for_accounts(settings).check_account(body.name, failures, latest, now)
        stored = await users.password_hash(conn, body.name)
    checked = await checks.check(stored, body.password)
    async with db.transaction() as tx:
        user = None
        if checked.ok and stored is not None:
            user = await users.password_sign_in(tx, body.name, stored, checked.rehashed)
        if user is None:
            # The attempted name, never the password: the audit shows who was tried.
            await events.record(
                tx, EventKind.SESSION_SIGN_IN_FAILED, actor=body.name, remote=remote,
                details={"method": "password"},
            )
            session_id = None
        else:
            session_id, _expires = await users.create_session(
                tx, user["name"], SESSION_LIFETIME
            )
            await events.record(
                tx, EventKind.SESSION_SIGNED_IN, actor=user["name"], remote=remote,
                details={"method": "password"},
            )
    if user is None or session_id is None:
        addresses.failed(remote)
        # One answer for every failure: it must not tell which names exist.
        raise Unauthorized(
            "wrong user name or password (or the user is disabled, or has no password)"
        )
    set_session_cookie(request, response, session_id)
    signed_in = Principal(
        user["name"], "user", user["role"], tuple(user["groups"]), via_cookie=True
    )
    return _describe(request, mode, signed_in)


@router.delete("")
async def sign_out(request: Request, response: Response, db: Database = Depends(get_db)) -> Session:
    session_id = request.cookies.get(SESSION_COOKIE)
    who: Principal | None = request.scope.get(PRINCIPAL_KEY)
    if session_id:
        async with db.transaction() as tx:
            ended = await users.delete_session(tx, session_id)
            if ended is not None:
                await events.record(
                    tx, EventKind.SESSION_SIGNED_OUT,
                    actor=who.actor if who is not None else ended,
                    remote=await remote_address(request),
                )
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    identity: Identity = request.app.state.identity
    return Session(mode=await identity.mode(), sso=request.app.state.oidc is not None)
