"""SSO sign-in for the UI with OpenID Connect: off to the provider, and back with a session.

`GET /api/session/sso` seals a new sign-in (state, nonce, PKCE verifier, where to go after) into
a signed, short-lived cookie on the browser (see sso_logins.py: nothing is stored on the server,
so anonymous starts exhaust nothing) and redirects the browser to the provider; the provider
sends it back to `GET /api/session/sso/callback`, which checks the state against that cookie,
exchanges the code, verifies the ID token, finds or creates the user (see store/users.sso_user),
and sets the same session cookie a password sign-in sets.

Both are browser navigations, so every failure is a small HTML page that says what went wrong
(4xx; 502 when the provider cannot be reached or misbehaves), never a JSON error or a 500.
"""

from __future__ import annotations

import hmac
import html
import re
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.exc import IntegrityError

from inloop.event_kinds import EventKind
from inloop.schemas import GROUP_PATTERN, NAME_PATTERN
from inloop.server.api.deps import get_db, remote_address
from inloop.server.api.session import SESSION_LIFETIME, set_session_cookie
from inloop.server.database.engine import Database
from inloop.server.errors import ServerError
from inloop.server.identity import Identity
from inloop.server.oidc import OidcError, Provider, SignInClaims
from inloop.server.sso_logins import LOGIN_LIFETIME, PendingLogin, SsoLogins
from inloop.server.store import events, users

router = APIRouter(prefix="/session/sso", tags=["session"])

STATE_COOKIE = "inloop_sso_state"
STATE_COOKIE_PATH = "/api/session/sso"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+$"


def _page(status: int, message: str, forget_state: bool = True) -> HTMLResponse:
    """A page for a sign-in that cannot go on, naming why; the state cookie goes with it,
    unless the request did not match it (a forged callback must not spoil a real sign-in)."""
    body = (
        "<!doctype html><html><head><meta charset='utf-8'><title>inloop: sign-in failed"
        "</title></head><body style='font-family: sans-serif; max-width: 40em; margin: 3em auto'>"
        f"<h1>Sign-in failed</h1><p id='reason'>{html.escape(message)}</p>"
        "<p><a href='/'>Back to inloop</a> to try again.</p></body></html>"
    )
    response = HTMLResponse(body, status_code=status)
    if forget_state:
        response.delete_cookie(
            STATE_COOKIE, path=STATE_COOKIE_PATH, httponly=True, samesite="lax"
        )
    return response


def _local_path(value: str | None) -> str:
    """Where to go after signing in: a path on this server only (never another site)."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/"


def _redirect_uri(request: Request, provider: Provider) -> str:
    return provider.config.redirect_url or str(request.url_for("sso_callback"))


@router.get("", response_class=RedirectResponse, status_code=302)
async def start_sso(
    request: Request,
    next_path: Annotated[str | None, Query(alias="next", max_length=2000)] = None,
) -> Response:
    """Send the browser to the identity provider to sign in (public: this is sign-in)."""
    provider: Provider | None = request.app.state.oidc
    if provider is None:
        return _page(
            404,
            "single sign-on is not configured on this server: an administrator sets "
            "INLOOP_OIDC_ISSUER, INLOOP_OIDC_CLIENT_ID and INLOOP_OIDC_CLIENT_SECRET to turn it on",
        )
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    code_verifier = secrets.token_urlsafe(48)  # 64 characters, within PKCE's 43 to 128
    try:
        url = await provider.authorization_url(
            _redirect_uri(request, provider), state, nonce, code_verifier
        )
    except OidcError as exc:
        return _page(exc.status, exc.message)
    logins: SsoLogins = request.app.state.sso_logins
    sealed = logins.seal(PendingLogin(state, nonce, code_verifier, _local_path(next_path)))
    response = RedirectResponse(url, status_code=302)
    # Binds the sign-in to this browser: a callback link someone else started (to sign the
    # victim in as the attacker) arrives without the matching cookie and is refused.
    response.set_cookie(
        STATE_COOKIE,
        sealed,
        max_age=int(LOGIN_LIFETIME.total_seconds()),
        path=STATE_COOKIE_PATH,
        httponly=True,
        samesite="lax",  # sent on the provider's top-level redirect back to us
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/callback", name="sso_callback", response_class=RedirectResponse, status_code=303)
async def finish_sso(
    request: Request,
    state: Annotated[str | None, Query(max_length=500)] = None,
    code: Annotated[str | None, Query(max_length=4000)] = None,
    error: Annotated[str | None, Query(max_length=500)] = None,
    error_description: Annotated[str | None, Query(max_length=2000)] = None,
    db: Database = Depends(get_db),
) -> Response:
    """Where the identity provider sends the browser back (public: this is sign-in)."""
    provider: Provider | None = request.app.state.oidc
    if provider is None:
        return _page(404, "single sign-on is not configured on this server")
    remote = await remote_address(request)
    logins: SsoLogins = request.app.state.sso_logins
    login = logins.open(request.cookies.get(STATE_COOKIE))
    matches = bool(
        state and login and hmac.compare_digest(state.encode(), login.state.encode())
    )
    if error is not None:
        # Nothing is signed in on this path, so it needs no state match (some providers drop
        # the state from error answers); the page forgets a matching sign-in.
        detail = f"{error}: {error_description}" if error_description else error
        return _page(403, f"the identity provider did not sign you in ({detail})",
                     forget_state=matches)
    if login is None or not matches:
        return _page(
            400,
            "this sign-in's state does not match the one this browser started (or it took "
            f"longer than {int(LOGIN_LIFETIME.total_seconds() // 60)} minutes, or cookies "
            "are blocked): start the sign-in again from inloop's sign-in page",
            forget_state=False,
        )
    if not code:
        return _page(400, "the identity provider sent neither a code nor an error")
    try:
        claims = await provider.sign_in(
            code, _redirect_uri(request, provider), login.nonce, login.code_verifier
        )
    except OidcError as exc:
        return _page(exc.status, exc.message)
    return await _sign_in(request, db, provider, claims, login.next_path, remote)


async def _sign_in(
    request: Request,
    db: Database,
    provider: Provider,
    claims: SignInClaims,
    next_path: str,
    remote: str | None,
) -> Response:
    email = claims.email if claims.email and re.match(EMAIL_PATTERN, claims.email) else None
    if email is not None and (len(email) > 300 or not claims.email_verified):
        email = None
    candidates = [
        name for name in (claims.username, email, claims.subject.split(" ", 1)[1])
        if name and re.match(NAME_PATTERN, name)
    ]
    groups = [group for group in claims.groups or [] if re.match(GROUP_PATTERN, group)]
    ignored = [group for group in claims.groups or [] if group not in groups]
    try:
        async with db.transaction() as tx:
            user, created = await users.sso_user(
                tx, claims.subject, candidates, email, groups, provider.config.default_role,
                link_by_email=provider.config.link_by_email,
            )
            if created:
                await events.record(
                    tx, EventKind.USER_CREATED, actor=user["name"], remote=remote,
                    details={"user": user["name"], "role": user["role"], "groups": groups,
                             "via": "sso"},
                )
            if user["disabled"]:
                await events.record(
                    tx, EventKind.SESSION_SIGN_IN_FAILED, actor=user["name"], remote=remote,
                    details={"method": "sso", "reason": "user is disabled"},
                )
                session_id = None
            else:
                session_id, _ = await users.create_session(tx, user["name"], SESSION_LIFETIME)
                await events.record(
                    tx, EventKind.SESSION_SIGNED_IN, actor=user["name"], remote=remote,
                    details={"method": "sso", "groups": groups,
                             "ignored_groups": ignored or None},
                )
    except ServerError as exc:
        return _page(exc.status_code, str(exc.detail))
    except IntegrityError:
        # Two first sign-ins raced for one new user name (or one subject): the other committed.
        return _page(
            409,
            "another sign-in created this account at the same moment; sign in again and it "
            "will be matched",
        )
    if created:
        identity: Identity = request.app.state.identity
        identity.users_changed()
    if session_id is None:
        return _page(
            403,
            f"user {user['name']!r} is disabled and cannot sign in; ask an administrator to "
            "enable them (`inloop user enable`)",
        )
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookie(request, response, session_id)
    response.delete_cookie(STATE_COOKIE, path=STATE_COOKIE_PATH, httponly=True, samesite="lax")
    return response
