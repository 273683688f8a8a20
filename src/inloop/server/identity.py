"""Who is asking: one decision per API request, in one place, for all three modes.

| mode       | when                                   | the principal                         |
|------------|----------------------------------------|---------------------------------------|
| open       | no users and no INLOOP_API_KEY         | `local:<declared user>`, as admin     |
| shared key | INLOOP_API_KEY set, no users           | `api-key` (admin), with the key       |
| users      | at least one user exists, or SSO is on | the user of a token or a UI session   |

In every mode a flow run's process may also prove itself with its run token alone (not in open
mode, where it needs nothing): it is then the run itself (role `run`, see RUN_GRANTS in
`inloop.server.access`), until the run is over. A token that comes with a user's credential
(a script started with INLOOP_API_KEY) adds its run's grants to what the user may do. In users
mode the server's INLOOP_API_KEY stays a way in as `api-key` with the admin role, so a
configured key never locks its operator out.

`IdentityMiddleware` resolves the principal once and keeps it on the request scope; routes ask
for a permission with `require(...)` (see `inloop.server.permissions`; the rules are in
`inloop.server.access`) and for the actor with
`inloop.server.api.deps.actor`. Whether users exist is cached: learning that they do is final
(users are disabled, never deleted), learning that they do not is re-checked every few seconds,
so a replica notices the first user another replica added, and open mode costs no query per
request.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hmac
import ipaddress
import re
import time
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from inloop.schemas import Mode
from inloop.server.access import Principal
from inloop.server.database.engine import Database
from inloop.server.database.schema import utcnow
from inloop.server.errors import Unauthorized
from inloop.server.middleware import send_json_error
from inloop.server.run_tokens import (
    RUN_OVER,
    RUN_SENDER_PREFIX,
    RUN_TOKEN_HEADER,
    RunLiveness,
    RunTokens,
)
from inloop.server.security import WRITE_METHODS, same_origin
from inloop.server.store import users

__all__ = [
    "PRINCIPAL_KEY",
    "SESSION_COOKIE",
    "Identity",
    "IdentityMiddleware",
    "Mode",
    "is_loopback",
]

PRINCIPAL_KEY = "inloop.principal"
SESSION_COOKIE = "inloop_session"
NO_USERS_RECHECK_SECONDS = 2.0
# How long a checked API token is trusted without asking the database again (changes to users
# and tokens empty the cache at once; this bounds a notification lost in a reconnect).
TOKEN_CACHE_SECONDS = 5.0
TOKEN_CACHE_SIZE = 10_000
# Answered without credentials in users mode: the liveness probe, and sign-in itself. (A
# shared-key server keeps asking for its key on every path, as it always has.)
PUBLIC_PATHS = frozenset(
    {"/api/health", "/api/session", "/api/session/sso", "/api/session/sso/callback"}
)
# A signed resume link, read (GET) or used (POST): the token in the path is the credential, in
# every mode, and it grants the answer to one pause and nothing else. Exactly one path segment
# of token characters, so no other route (and no route added later) can hide behind it.
LINK_PATH = re.compile(r"/api/links/[A-Za-z0-9_.\-]+")
LINK_METHODS = frozenset({"GET", "POST"})


def is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class Identity:
    """Resolve principals for one app: its database, its API key and its run tokens."""

    def __init__(
        self, db: Database, api_key: str | None, run_tokens: RunTokens, sso: bool = False
    ) -> None:
        self.db = db
        self.sso = sso
        self.api_key = api_key.encode() if api_key else None
        self.run_tokens = run_tokens
        self.liveness = RunLiveness(db)
        self._users_exist = False
        self._checked_at = float("-inf")
        # Token digest -> (principal, monotonic time it may be used until). Every change of who a
        # token speaks for notifies users.CHANGED (through PostgreSQL to every replica), which
        # empties it; the short lifetime bounds what a missed notification could keep.
        self._tokens: dict[str, tuple[Principal, float]] = {}
        self._tokens_changed: asyncio.Event | None = None
        self._subscription = contextlib.ExitStack()

    async def mode(self) -> Mode:
        if self.sso or await self.users_exist():
            return "users"
        return "shared-key" if self.api_key else "open"

    async def users_exist(self) -> bool:
        if self._users_exist:
            return True
        now = time.monotonic()
        if now - self._checked_at >= NO_USERS_RECHECK_SECONDS:
            async with self.db.read() as conn:
                self._users_exist = await users.has_users(conn)
            self._checked_at = now
        return self._users_exist

    def users_changed(self) -> None:
        """Forget the cached answer (this replica just added a user)."""
        self._checked_at = float("-inf")

    async def resolve(
        self,
        headers: dict[bytes, bytes],
        required: bool,
        method: str = "GET",
        path: str = "",
    ) -> Principal | None:
        """The principal for these request headers; 401 when credentials are missing or bad.

        With `required` False (public paths in users mode), missing or bad credentials give
        None instead. `method` and `path` matter only for a run token whose run is over (see
        `hears_its_end`).
        """
        mode = await self.mode()
        required = required or mode == "shared-key"
        authorization = headers.get(b"authorization")
        if authorization is not None and mode != "open":
            scheme, _, credentials = authorization.decode("latin-1").strip().partition(" ")
            secret = credentials.strip()
            if scheme.lower() != "bearer" or not secret:
                return _refuse(required, "malformed Authorization header: send 'Bearer <token>'")
            if self.api_key is not None and hmac.compare_digest(secret.encode(), self.api_key):
                return self._with_run(Principal("api-key", "api-key", "admin"), headers)
            if mode == "shared-key":
                return _refuse(required, "invalid API key: send 'Authorization: Bearer "
                               "<INLOOP_API_KEY>'")
            return self._with_run(await self._token_principal(secret, required), headers)
        if mode == "users":
            cookie = _cookie(headers.get(b"cookie"), SESSION_COOKIE)
            if cookie is not None:
                async with self.db.read() as conn:
                    user = await users.session_user(conn, cookie)
                if user is not None:
                    return _user_principal(user, via_cookie=True)
                if required:
                    raise Unauthorized(
                        "your sign-in session has expired or was ended: sign in again"
                    )
        run_token = headers.get(b"x-inloop-run-token")
        if run_token is not None and mode != "open":
            try:
                run_id = self.run_tokens.verify(run_token.decode("latin-1"))
            except Unauthorized:
                if required:
                    raise
                return None
            ended = await self.liveness.over(run_id)
            if ended is not None and not hears_its_end(method, path, run_id):
                return _refuse(
                    required,
                    f"the run token in the {RUN_TOKEN_HEADER} header no longer works: its flow "
                    f"run {run_id} is over ({ended.display_name}), and {RUN_OVER}. Nothing more "
                    "can be done as that run; to act on it, use a user's API token.",
                )
            return Principal(f"{RUN_SENDER_PREFIX}{run_id}", "run", "run", run_id=run_id)
        if mode == "open":
            declared = headers.get(b"x-inloop-actor", b"").decode("latin-1").strip()[:100]
            # DESIGN section 3: in open mode the actor is the local user the client declares.
            return Principal(f"local:{declared or 'anonymous'}", "local", "admin")
        if mode == "shared-key":
            return _refuse(required, "missing API key: send 'Authorization: Bearer "
                           "<INLOOP_API_KEY>'")
        return _refuse(
            required,
            "sign in first: this server has users, so every request needs a user's API token "
            "('Authorization: Bearer <token>'; create one with `inloop token create --user "
            f"NAME` and set INLOOP_API_KEY to it) or a UI sign-in"
            f"{' (password or SSO)' if self.sso else ''}",
        )

    def _with_run(self, who: Principal | None, headers: dict[bytes, bytes]) -> Principal | None:
        """A user's (or the key's) principal, plus the run whose genuine token came along."""
        run_token = headers.get(b"x-inloop-run-token")
        if who is None or run_token is None:
            return who
        try:
            run_id = self.run_tokens.verify(run_token.decode("latin-1"))
        except Unauthorized:
            return who  # the user's own credential decides; routes that need a run say so
        return dataclasses.replace(who, run_id=run_id)

    def _cached_token(self, key: str) -> Principal | None:
        if self._tokens_changed is None:
            # Subscribed for the app's lifetime (the hub wakes it on every change, and on a
            # reconnect of the PostgreSQL listener, when changes may have been missed).
            self._tokens_changed = self._subscription.enter_context(
                self.db.hub.subscribe([users.CHANGED])
            )
        if self._tokens_changed.is_set():
            self._tokens_changed.clear()
            self._tokens.clear()
        found = self._tokens.get(key)
        if found is None:
            return None
        principal, until = found
        if time.monotonic() >= until:
            del self._tokens[key]
            return None
        return principal

    async def _token_principal(self, secret: str, required: bool) -> Principal | None:
        key = users.digest(secret)
        cached = self._cached_token(key)
        if cached is not None:
            return cached
        async with self.db.read() as conn:
            user, reason, touch = await users.token_user(conn, secret)
        if user is None:
            return _refuse(
                required,
                f"API token refused ({reason}): create a new one with `inloop token create`",
            )
        if touch is not None:
            async with self.db.transaction() as tx:
                await users.touch_token(tx, touch)
        principal = _user_principal(user)
        until = time.monotonic() + TOKEN_CACHE_SECONDS
        expires = user.get("token_expires")
        if expires is not None:
            until = min(until, time.monotonic() + (expires - utcnow()).total_seconds())
        if len(self._tokens) >= TOKEN_CACHE_SIZE:
            self._tokens.clear()  # many tokens in use at once: start over rather than grow
        self._tokens[key] = (principal, until)
        return principal

    def close(self) -> None:
        self._subscription.close()
        self.liveness.close()


def hears_its_end(method: str, path: str, run_id: str) -> bool:
    """What a run's token still does once its run is over: learn how it ended.

    Its process heartbeats, and the answer names the runs that were stopped (a heartbeat
    writes nothing for a finished run); then it reads its own run to say who cancelled it and
    stops. Without this, a flow process holding only its run token would never hear of the
    cancel that ended its run and would run on. Nothing else: every other request is a 401.
    """
    return (method == "POST" and path == "/api/flow_runs/heartbeat") or (
        method == "GET" and path == f"/api/flow_runs/{run_id}"
    )


def _user_principal(user: dict[str, Any], via_cookie: bool = False) -> Principal:
    return Principal(
        user["name"], "user", user["role"], tuple(user["groups"]), via_cookie=via_cookie
    )


def _refuse(required: bool, detail: str) -> Principal | None:
    """401 when credentials are required; otherwise the request goes on as nobody."""
    if required:
        raise Unauthorized(detail)
    return None


def _cookie(header: bytes | None, name: str) -> str | None:
    if header is None:
        return None
    for part in header.decode("latin-1").split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name and value:
            return value
    return None


class IdentityMiddleware:
    """Resolve the principal of every /api request, or answer 401 before any route runs.

    A UI session rides on a cookie the browser adds by itself, so a write authenticated by one
    must also show where it comes from: an `Origin` (or, failing that, a `Referer`) of this
    very server. Token-authenticated writes need none: a page cannot make a browser send them.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == "/api" or path.startswith("/api/")):
            await self.app(scope, receive, send)
            return
        if scope["method"] in LINK_METHODS and LINK_PATH.fullmatch(path):
            # No principal: the link route records its own actor, `link:<recipient>`.
            await self.app(scope, receive, send)
            return
        identity: Identity = scope["app"].state.identity
        headers = dict(scope["headers"])
        try:
            principal = await identity.resolve(
                headers, required=path not in PUBLIC_PATHS, method=scope["method"], path=path
            )
        except Unauthorized as exc:
            await send_json_error(send, 401, str(exc.detail))
            return
        if principal is not None and principal.via_cookie and scope["method"] in WRITE_METHODS:
            source = headers.get(b"origin") or headers.get(b"referer")
            host = headers.get(b"host")
            if source is None or host is None or not same_origin(
                source.decode("latin-1"), host.decode("latin-1")
            ):
                await send_json_error(
                    send,
                    403,
                    f"{scope['method']} with a sign-in cookie needs an Origin or Referer header "
                    "naming this server (a guard against cross-site requests); send the "
                    "request from the inloop UI, or use an API token instead",
                )
                return
        scope[PRINCIPAL_KEY] = principal
        await self.app(scope, receive, send)
