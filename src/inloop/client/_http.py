"""The way to the server: connection pools, `_send` with its retries, and the client's errors.

Every call of every area (`runs`, `inputs`, ...) goes through `BaseClient._send`, on the
process's I/O loop, through one shared connection pool per (API URL, key, lane); so retries,
run tokens and errors behave the same everywhere.

Error names: the general kinds end in `Error` (`InloopAPIError`, `ConflictError`); the rest name
what happened (`ObjectNotFound`, `WrongState`, `RunOver`, `ServerUnavailable`).
"""

from __future__ import annotations

import asyncio
import getpass
import socket
from collections.abc import Sequence
from typing import Any

import httpx

from inloop._dual import add_shutdown_hook
from inloop.context import current_flow_run, held_run_token
from inloop.settings import get_settings

__all__ = [
    "LONG_POLL_SLACK",
    "RUN_OVER",
    "RUN_TOKEN_HEADER",
    "BaseClient",
    "ConflictError",
    "InloopAPIError",
    "ObjectAlreadyExists",
    "ObjectNotFound",
    "RunOver",
    "ServerUnavailable",
    "WrongState",
    "default_actor",
    "describe_detail",
]

RUN_TOKEN_HEADER = "X-Inloop-Run-Token"
# In the server's 401 for a run token whose run is final (inloop.server.run_tokens.RUN_OVER).
RUN_OVER = "a run's token ends with its run"
# A long poll's HTTP timeout is its wait plus this, so the server answers before we give up.
LONG_POLL_SLACK = 15.0
FIRST_CONTACT_RETRIES = 3
RETRY_STATUSES = frozenset({502, 503, 504})  # a proxy or a server stopping: ask again
RETRY_MAX_PAUSE_SECONDS = 1.0


class InloopAPIError(Exception):
    """The server answered with an error status; `detail` is its explanation."""

    def __init__(self, status_code: int, detail: Any, method: str, url: str) -> None:
        self.status_code = status_code
        self.detail = detail
        super().__init__(f"{method} {url} -> {status_code}: {describe_detail(detail)}")


class ObjectNotFound(InloopAPIError):
    pass


class ConflictError(InloopAPIError):
    """409: the request clashes with what the server holds (`inloop.client.Conflict` too)."""


class ObjectAlreadyExists(ConflictError):
    pass


class WrongState(ConflictError):
    """The run is not in a state that allows this (the message says which state it is in)."""


class RunOver(InloopAPIError):
    """401: the request spoke as a flow run (its run token) and that run is over (final)."""


class ServerUnavailable(ConnectionError):
    pass


def describe_detail(detail: Any) -> str:
    """A server error's `detail` as one line (a 422 lists each field's error)."""
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                parts.append(f"{loc}: {item.get('msg')}" if loc else str(item.get("msg")))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return str(detail)


def _not_the_api(api_url: str, response: httpx.Response) -> InloopAPIError | None:
    """An error naming the likely mistake when something other than inloop's API answered.

    The usual cause is INLOOP_API_URL without `/api`: the UI's pages answer with HTML there.
    """
    content_type = response.headers.get("content-type", "")
    html = "html" in content_type
    if not html and (api_url.endswith("/api") or response.status_code not in (404, 405)):
        return None
    what = "HTML" if html else f"{response.status_code} for {response.request.url.path}"
    hint = (
        "is an inloop server running there?"
        if api_url.endswith("/api")
        else f"did you mean {api_url}/api?"
    )
    message = f"INLOOP_API_URL={api_url} answered {what}, not the inloop API; {hint}"
    return InloopAPIError(
        response.status_code, message, response.request.method, str(response.request.url)
    )


def _error_for(response: httpx.Response) -> InloopAPIError:
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    cls: type[InloopAPIError] = InloopAPIError
    if response.status_code == 404:
        cls = ObjectNotFound
    elif response.status_code == 401 and RUN_OVER in str(detail):
        cls = RunOver
    elif response.status_code == 409:
        cls = ObjectAlreadyExists if "already" in str(detail) else WrongState
    return cls(response.status_code, detail, response.request.method, str(response.request.url))


def default_actor() -> str:
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


_pools: dict[tuple[str, str | None, str], httpx.AsyncClient] = {}
# Connections per pool. Heartbeats have a pool of their own: a process with many paused runs
# holds a long-poll per run, and a heartbeat queued behind them would make it look dead.
POOL_SIZE = {"main": 20, "liveness": 2}
# APIs that answered this process at least once: losing one of those is a restart to ride out.
_reached: set[str] = set()


def _pool(api_url: str, api_key: str | None, lane: str = "main") -> httpx.AsyncClient:
    """The shared httpx client for this API and lane (created on, and used only from, the I/O
    loop)."""
    key = (api_url, api_key, lane)
    pool = _pools.get(key)
    if pool is None:
        headers = {"x-inloop-actor": default_actor()}
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        pool = httpx.AsyncClient(
            base_url=api_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(30.0, connect=5.0, pool=None),
            # One server process answers them all: more connections only add handshakes.
            # Requests beyond the limit queue for a free connection (no pool timeout).
            limits=httpx.Limits(
                max_connections=POOL_SIZE[lane], max_keepalive_connections=POOL_SIZE[lane]
            ),
        )
        _pools[key] = pool
        if len(_pools) == 1:
            add_shutdown_hook(_close_pools)
    return pool


async def _close_pools() -> None:
    pools = list(_pools.values())
    _pools.clear()
    for pool in pools:
        await pool.aclose()


class BaseClient:
    """Where the server is, who is asking, and `_send`: what every area's calls need."""

    def __init__(self, api_url: str | None = None, api_key: str | None = None) -> None:
        settings = get_settings()
        self.api_url = (api_url or settings.api_url).rstrip("/")
        self.api_key = api_key if api_key is not None else settings.api_key
        # A process a runner started for a flow run speaks for that run outside any @flow too.
        self.run_token = settings.run_token

    async def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Any = None,
        timeout: float | None = None,
        expect: Sequence[int] = (200, 201, 204),
        idempotent: bool | None = None,
        as_run: object = None,
        lane: str = "main",
    ) -> Any:
        """Send one request, retrying while the server cannot answer it.

        A request that never left (connection refused) is retried whatever it is; one that
        may have reached the server (connection dropped, read timeout, 502/503/504) only when
        sending it twice does what sending it once does (`idempotent`; GETs by default).
        Retries go on for `client_retry_seconds` once this server has answered us before (a
        restart), but only a few times for one never reached (not started: fail fast).

        The request carries a run token: `as_run`'s when this process holds it (the request is
        about that run, e.g. its heartbeat or final state), else the current flow run's.
        """
        if idempotent is None:
            idempotent = method == "GET"
        pool = _pool(self.api_url, self.api_key, lane)
        request_timeout = httpx.Timeout(timeout or 30.0, connect=5.0, pool=None)
        # Inside a flow run, say which run is asking (the server sets input senders from it).
        run = current_flow_run()
        token = (
            (held_run_token(as_run) if as_run is not None else None)
            or (run.run_token if run is not None else None)
            or self.run_token
        )
        headers = {RUN_TOKEN_HEADER: token} if token else None
        loop = asyncio.get_running_loop()
        give_up: float | None = None
        attempt = 0
        while True:
            try:
                response = await pool.request(
                    method,
                    path,
                    json=json,
                    params=params,
                    headers=headers,
                    timeout=request_timeout,
                )
            except httpx.TransportError as exc:
                never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                if not (never_sent or idempotent):
                    raise
                failure = f"{type(exc).__name__}: {exc}".rstrip(": ")
            else:
                _reached.add(self.api_url)
                if not (idempotent and response.status_code in RETRY_STATUSES):
                    break
                failure = f"HTTP {response.status_code}"
            if give_up is None:
                window = get_settings().client_retry_seconds if self.api_url in _reached else 0
                give_up = loop.time() + window
            if attempt >= FIRST_CONTACT_RETRIES and loop.time() >= give_up:
                if failure.startswith("HTTP"):
                    break  # the server's own answer says what went wrong
                raise ServerUnavailable(
                    f"could not reach the inloop server at {self.api_url} ({failure}). "
                    "Start one with `inloop server start`, or set INLOOP_API_URL to the "
                    "address of a running server."
                ) from None
            await asyncio.sleep(min(0.05 * 2**attempt, RETRY_MAX_PAUSE_SECONDS))
            attempt += 1
        if response.status_code not in expect:
            raise _not_the_api(self.api_url, response) or _error_for(response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise _not_the_api(self.api_url, response) or _error_for(response) from None
