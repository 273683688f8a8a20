"""create_app(): the FastAPI application serving the API at /api and the UI at /."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inloop._version import __version__
from inloop.schemas import StateType
from inloop.server import answering
from inloop.server.access import ROLES
from inloop.server.api import (
    automations,
    blocks,
    cursors,
    deployments,
    events,
    flow_runs,
    inbox,
    inputs,
    links,
    logs,
    offers,
    session,
    sso,
    task_results,
    users,
)
from inloop.server.api.responses import AUTH_ERROR
from inloop.server.automations.dispatcher import Dispatcher
from inloop.server.database.engine import Database
from inloop.server.database.schema import utcnow
from inloop.server.errors import ServerError
from inloop.server.identity import Identity, IdentityMiddleware
from inloop.server.link_tokens import LinkTokens
from inloop.server.middleware import (
    BodyLimitMiddleware,
    SecurityHeadersMiddleware,
)
from inloop.server.oidc import OidcConfig, Provider
from inloop.server.passwords import PasswordChecks
from inloop.server.run_tokens import RUN_TOKEN_HEADER, RunTokens
from inloop.server.security import HostCheckMiddleware, HostPolicy, WriteGuardMiddleware
from inloop.server.silence import REAPER_INTERVAL_SECONDS, Hearing
from inloop.server.sso_logins import SsoLogins
from inloop.server.store import deadlines, deliveries, liveness, secrets
from inloop.server.store import events as event_store
from inloop.server.throttle import AddressFailures, Backoff
from inloop.settings import Settings, get_settings

__all__ = ["create_app"]

UI_DIR = Path(__file__).parent / "ui"
log = logging.getLogger("inloop.server")

PLACEHOLDER = """<!doctype html><html><head><title>inloop</title></head><body>
<h1>inloop</h1><p>The API is at <a href="/api/docs">/api/docs</a>
(OpenAPI: <a href="/api/openapi.json">/api/openapi.json</a>).
The web UI has not been built: run <code>npm ci &amp;&amp; npm run build</code> in <code>ui/</code>.
</p></body></html>"""


async def _reaper(db: Database, settings: Settings, hearing: Hearing) -> None:
    """Fail runs whose pause timed out (or resume those that chose their defaults); mark runs
    whose process has been silent for longer than its budget as crashed (store/liveness),
    counting silence only while this server could hear it (server/silence)."""
    while True:
        try:
            async with db.transaction() as tx:
                await deadlines.expire_overdue_pauses(tx)
            await answering.resume_overdue_with_defaults(db)
            hearing.pass_done()
            heard = hearing.heard_for()
            budgets = {
                state: budget
                for state, budget in silence_budgets(settings).items()
                if heard > budget
            }
            if budgets:
                async with db.transaction() as tx:
                    await liveness.mark_silent_runs_crashed(tx, budgets)
        except asyncio.CancelledError:
            raise
        except Exception:  # the reaper must outlive a database hiccup
            log.exception("reaper pass failed; retrying")
        await asyncio.sleep(REAPER_INTERVAL_SECONDS)


async def _prune_events(db: Database, keep_days: float, every: float) -> None:
    """Delete events older than `keep_days`, in batches, now and every `every` seconds.

    Replicas may prune at once: each batch is its own short transaction and deleting a row
    twice deletes it once, so no coordination is needed (on PostgreSQL the second replica
    waits on the rows the first is deleting, then finds them gone).
    """
    while True:
        try:
            cutoff = utcnow() - timedelta(days=keep_days)
            deleted = 0
            while True:
                async with db.transaction() as tx:
                    batch = await event_store.delete_older_than(tx, cutoff)
                deleted += batch
                if batch == 0:
                    break
                await asyncio.sleep(0)  # let requests in between batches
            if deleted:
                log.info(
                    "deleted %d events older than %s (INLOOP_EVENTS_KEEP_DAYS=%g)",
                    deleted, cutoff.isoformat(timespec="seconds"), keep_days,
                )
        except asyncio.CancelledError:
            raise
        except Exception:  # pruning must outlive a database hiccup
            log.exception("pruning old events failed; retrying in %g s", every)
        await asyncio.sleep(every)


def silence_budgets(settings: Settings) -> liveness.Budgets:
    """How long each live state's process may be silent before its run is judged crashed."""
    running = settings.heartbeat_grace_seconds
    return {
        StateType.PENDING: running,
        StateType.RUNNING: running,
        StateType.PAUSED: settings.paused_heartbeat_grace_seconds,
    }


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app; OidcConfigError (naming the setting) when the SSO settings are wrong."""
    settings = settings or get_settings()
    oidc = OidcConfig.from_settings(settings, ROLES)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings.resolved_database_url)
        # Every event this server records plans the deliveries automations owe it, in the
        # event's own transaction (before any request or background task can record one).
        event_store.on_recorded(db, deliveries.on_events)
        await db.start()
        app.state.db = db
        async with db.transaction() as tx:
            signing_key = await secrets.get_or_create_secret(tx, secrets.SIGNING_KEY)
        app.state.run_tokens = RunTokens(signing_key)
        # One key, two salts: a run token is never a valid link, nor the other way round.
        app.state.link_tokens = LinkTokens(signing_key)
        app.state.sso_logins = SsoLogins(signing_key)  # a third salt: SSO sign-ins under way
        app.state.hearing = Hearing()
        app.state.identity = Identity(
            db, settings.api_key, app.state.run_tokens, sso=oidc is not None
        )
        app.state.passwords = PasswordChecks(
            settings.password_check_concurrency, settings.password_check_queue
        )
        app.state.address_failures = AddressFailures(Backoff.for_addresses(settings))
        reaper = asyncio.create_task(
            _reaper(db, settings, app.state.hearing), name="inloop-reaper"
        )
        background = [reaper]
        if settings.events_keep_days is not None:
            background.append(asyncio.create_task(
                _prune_events(db, settings.events_keep_days, settings.events_prune_seconds),
                name="inloop-prune-events",
            ))
        dispatcher = Dispatcher(db, settings, app.state.link_tokens)
        await dispatcher.start()
        try:
            yield
        finally:
            await dispatcher.stop()
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            # Let long-polls return now instead of at their timeout.
            db.hub.close()
            app.state.identity.close()
            app.state.passwords.close()
            await db.stop()

    app = FastAPI(
        title="inloop",
        version=__version__,
        lifespan=lifespan,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.oidc = Provider(oidc) if oidc is not None else None

    @app.exception_handler(ServerError)
    async def _server_error(_request: Request, exc: ServerError) -> JSONResponse:
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers or None
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    # Routes are matched in order: the hot paths (inputs, runs) first, each router mounted on
    # the app directly (a nested router would match every request twice).
    auth = AUTH_ERROR if settings.api_key else None
    routers = (
        inputs, flow_runs, offers, logs, task_results, cursors, blocks, deployments, inbox,
        events, session, sso, users, automations, links,
    )
    for module in routers:
        app.include_router(module.router, prefix="/api", responses=auth)

    @app.api_route(
        "/api/{rest:path}",
        methods=["GET", "POST", "PUT", "DELETE", "PATCH"],
        include_in_schema=False,
    )
    async def _unknown_api(rest: str) -> JSONResponse:
        return JSONResponse({"detail": f"no API endpoint at /api/{rest}"}, status_code=404)

    _mount_ui(app)
    # The last added runs first: headers on every answer, then Host, CORS (so a preflight needs
    # no key and refusals below still carry CORS headers), Origin, who is asking, body size.
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_request_bytes)
    app.add_middleware(IdentityMiddleware)
    app.add_middleware(WriteGuardMiddleware, cors_origins=settings.cors_origin_list)
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["authorization", "content-type", "x-inloop-actor", RUN_TOKEN_HEADER],
            max_age=600,
        )
    policy = HostPolicy.for_server(settings.server_host, settings.allowed_host_list)
    app.add_middleware(HostCheckMiddleware, policy=policy)
    app.add_middleware(SecurityHeadersMiddleware)
    return app


class _ImmutableAssets:
    """Hashed asset files never change under their name: let browsers keep them for a year."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_cached(message: Message) -> None:
            if message["type"] == "http.response.start" and message.get("status") == 200:
                message["headers"] = [
                    *message.get("headers", []),
                    (b"cache-control", b"public, max-age=31536000, immutable"),
                ]
            await send(message)

        await self.app(scope, receive, send_cached)


def _mount_ui(app: FastAPI) -> None:
    index = UI_DIR / "index.html"
    assets = UI_DIR / "assets"
    if assets.is_dir():
        static = GZipMiddleware(_ImmutableAssets(StaticFiles(directory=assets)), minimum_size=1024)
        app.mount("/assets", static, name="assets")

    @app.api_route("/{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
    async def _ui(path: str) -> Response:
        # Files at the UI root (favicon, ...) as themselves; every other path is a client-side
        # route, answered with index.html so a reload of /runs/<id>/resume works.
        candidate = (UI_DIR / path).resolve()
        if path and candidate.is_file() and UI_DIR.resolve() in candidate.parents:
            return FileResponse(candidate)
        if index.is_file():
            return FileResponse(index, headers={"cache-control": "no-cache"})
        return HTMLResponse(PLACEHOLDER)
