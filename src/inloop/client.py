"""One place for HTTP: the async client, used with or without `await` by the dual-call rule.

Requests are built and responses checked by plain functions; only `_send` does I/O, on the
process's I/O loop, through one shared connection pool per (API URL, key).
"""

from __future__ import annotations

import asyncio
import getpass
import socket
from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

import httpx

from inloop._client_automations import AutomationMethods
from inloop._client_offers import OfferMethods
from inloop._client_people import LONG_POLL_SLACK, PeopleMethods
from inloop._dual import add_shutdown_hook, dual
from inloop.assignees import check_assignees
from inloop.context import current_flow_run, held_run_token
from inloop.schemas import (
    BlockDocument,
    Deployment,
    FlowRun,
    FlowRunInput,
    FlowRunWithToken,
    InboxItem,
    LogRecord,
    State,
    StateType,
)
from inloop.settings import get_settings

__all__ = [
    "Conflict",
    "InloopAPIError",
    "InloopClient",
    "ObjectAlreadyExists",
    "ObjectNotFound",
    "RunOver",
    "ServerUnavailable",
    "WrongState",
    "describe_detail",
    "get_client",
]

RUN_TOKEN_HEADER = "X-Inloop-Run-Token"
# In the server's 401 for a run token whose run is final (inloop.server.run_tokens.RUN_OVER).
RUN_OVER = "a run's token ends with its run"
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


class Conflict(InloopAPIError):
    """409: the request clashes with what the server holds."""


class ObjectAlreadyExists(Conflict):
    pass


class WrongState(Conflict):
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


class InloopClient(PeopleMethods, AutomationMethods, OfferMethods):
    """The inloop API. Every public method follows the dual-call rule (see `inloop._dual`)."""

    def __init__(self, api_url: str | None = None, api_key: str | None = None) -> None:
        settings = get_settings()
        self.api_url = (api_url or settings.api_url).rstrip("/")
        self.api_key = api_key if api_key is not None else settings.api_key
        # A process a runner started for a flow run speaks for that run outside any @flow too.
        self.run_token = settings.run_token

    # Both context-manager forms work; the pool is shared, so there is nothing to close.
    async def __aenter__(self) -> InloopClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        return None

    def __enter__(self) -> InloopClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None

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

    # --- server --------------------------------------------------------------------------------
    @dual
    async def health(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._send("GET", "/health")
        return result

    # --- flow runs -----------------------------------------------------------------------------
    @dual
    async def create_flow_run(
        self,
        flow_name: str,
        parameters: dict[str, Any] | None = None,
        state: StateType = StateType.RUNNING,
        parent_flow_run_id: UUID | str | None = None,
    ) -> FlowRunWithToken:
        body = {
            "flow_name": flow_name,
            "parameters": parameters or {},
            "state": state.value,
            "parent_flow_run_id": str(parent_flow_run_id) if parent_flow_run_id else None,
        }
        found = await self._send("POST", "/flow_runs", json=body)
        return FlowRunWithToken.model_validate(found)

    @dual
    async def read_flow_run(self, flow_run_id: UUID | str) -> FlowRun:
        found = await self._send("GET", f"/flow_runs/{flow_run_id}", as_run=flow_run_id)
        return FlowRun.model_validate(found)

    @dual
    async def resolve_flow_run(self, ref: str) -> FlowRun:
        """The run named by its full id, its name, or an unambiguous start of its id."""
        found = await self._send("GET", "/flow_runs/resolve", params={"ref": ref})
        return FlowRun.model_validate(found)

    @dual
    async def read_flow_runs(
        self,
        *,
        flow_name: str | None = None,
        state: Sequence[StateType | str] | StateType | str | None = None,
        deployment_id: UUID | str | None = None,
        parent_flow_run_id: UUID | str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[FlowRun]:
        states = [state] if isinstance(state, StateType | str) else list(state or [])
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if states:
            params["state"] = [StateType(str(s).upper()).value for s in states]
        if flow_name:
            params["flow_name"] = flow_name
        if deployment_id:
            params["deployment_id"] = str(deployment_id)
        if parent_flow_run_id:
            params["parent_flow_run_id"] = str(parent_flow_run_id)
        found = await self._send("GET", "/flow_runs", params=params)
        return [FlowRun.model_validate(item) for item in found]

    @dual
    async def read_flow_run_states(self, flow_run_id: UUID | str) -> list[State]:
        found = await self._send("GET", f"/flow_runs/{flow_run_id}/states", as_run=flow_run_id)
        return [State.model_validate(item) for item in found]

    @dual
    async def wait_for_flow_run_change(
        self, flow_run_id: UUID | str, after_seq: int, timeout: float = 30.0
    ) -> FlowRun:
        found = await self._send(
            "GET",
            f"/flow_runs/{flow_run_id}/wait",
            params={"after_seq": after_seq, "timeout": timeout},
            timeout=timeout + LONG_POLL_SLACK,
            as_run=flow_run_id,
        )
        return FlowRun.model_validate(found)

    @dual
    async def set_flow_run_state(
        self,
        flow_run_id: UUID | str,
        state: StateType,
        message: str | None = None,
        details: dict[str, Any] | None = None,
        expected_seq: int | None = None,
    ) -> FlowRun:
        body = {
            "type": state.value,
            "message": message,
            "details": details or {},
            "expected_seq": expected_seq,
        }
        found = await self._send(
            "POST", f"/flow_runs/{flow_run_id}/set_state", json=body, as_run=flow_run_id
        )
        return FlowRun.model_validate(found)

    @dual
    async def cancel_flow_run(self, flow_run_id: UUID | str) -> FlowRun:
        found = await self._send("POST", f"/flow_runs/{flow_run_id}/cancel")
        return FlowRun.model_validate(found)

    @dual
    async def pause_flow_run(
        self,
        flow_run_id: UUID | str,
        key: str,
        schema: dict[str, Any] | None = None,
        description: str | None = None,
        timeout: float | None = 3600,
        reschedule: bool = False,
        on_timeout: str = "fail",
        timeout_input: dict[str, Any] | None = None,
        validate_before_resume: bool = False,
        *,
        assignees: Sequence[str] | None = None,
        allow_self_approval: bool = True,
    ) -> FlowRun:
        body: dict[str, Any] = {
            "key": key,
            "schema": schema,
            "description": description,
            "timeout": timeout,
            "reschedule": reschedule,
            "validate_before_resume": validate_before_resume,
        }
        if on_timeout != "fail":  # sent only when chosen: older servers know no such field
            body["on_timeout"] = on_timeout
            body["timeout_input"] = timeout_input
        # Sent only when set: a plain pause's request stays what it always was.
        chosen = check_assignees(assignees)
        if chosen:
            body["assignees"] = chosen
        if not allow_self_approval:
            body["allow_self_approval"] = False
        found = await self._send("POST", f"/flow_runs/{flow_run_id}/pause", json=body)
        return FlowRun.model_validate(found)

    @dual
    async def read_pause(self, flow_run_id: UUID | str) -> dict[str, Any]:
        result: dict[str, Any] = await self._send("GET", f"/flow_runs/{flow_run_id}/pause")
        return result

    @dual
    async def resume_flow_run(
        self, flow_run_id: UUID | str, run_input: dict[str, Any] | None = None
    ) -> FlowRun:
        found = await self._send(
            "POST", f"/flow_runs/{flow_run_id}/resume", json={"run_input": run_input}
        )
        return FlowRun.model_validate(found)

    @dual
    async def heartbeat(
        self, flow_run_ids: Sequence[UUID | str], runner_id: str | None = None
    ) -> dict[str, StateType]:
        stopped: dict[str, StateType] = {}
        ids_ = [str(i) for i in flow_run_ids]
        # A runner beats for all its runs at once, with its own credential; a flow process
        # beats each run it holds the token of as that run (the rest together).
        groups = [ids_] if runner_id is not None else _by_held_token(ids_)
        for ids in groups:
            body = {"ids": ids, "runner_id": runner_id}
            found = await self._send(
                "POST", "/flow_runs/heartbeat", json=body, idempotent=True,
                as_run=ids[0] if runner_id is None else None, lane="liveness",
            )
            stopped.update((k, StateType(v)) for k, v in found["stopped"].items())
        return stopped

    # --- inputs --------------------------------------------------------------------------------
    @dual
    async def create_flow_run_input(
        self, flow_run_id: UUID | str, key: str, value: Any, sender: str | None = None
    ) -> FlowRunInput:
        body = {"key": key, "value": value, "sender": sender}
        # The key names this input: the server answers a repeat with the stored row.
        found = await self._send(
            "POST", f"/flow_runs/{flow_run_id}/input", json=body, idempotent=True
        )
        return FlowRunInput.model_validate(found)

    @dual
    async def read_flow_run_input(self, flow_run_id: UUID | str, key: str) -> FlowRunInput | None:
        try:
            found = await self._send("GET", f"/flow_runs/{flow_run_id}/input/{key}")
        except ObjectNotFound as exc:
            if "no input with key" in str(exc.detail):
                return None
            raise
        return FlowRunInput.model_validate(found)

    @dual
    async def filter_flow_run_inputs(
        self,
        flow_run_id: UUID | str,
        prefix: str | None = None,
        after_seq: int = 0,
        limit: int = 100,
        wait: float = 0,
        exclude_keys: Sequence[str] = (),
    ) -> list[FlowRunInput]:
        body = {
            "prefix": prefix,
            "after_seq": after_seq,
            "limit": limit,
            "wait": wait,
            "exclude_keys": list(exclude_keys),
        }
        found = await self._send(
            "POST",
            f"/flow_runs/{flow_run_id}/input/filter",
            json=body,
            timeout=wait + LONG_POLL_SLACK,
            idempotent=True,
        )
        return [FlowRunInput.model_validate(item) for item in found]

    @dual
    async def read_flow_run_inputs(self, flow_run_id: UUID | str) -> list[FlowRunInput]:
        found = await self._send("GET", f"/flow_runs/{flow_run_id}/inputs")
        return [FlowRunInput.model_validate(item) for item in found]

    # --- logs ----------------------------------------------------------------------------------
    @dual
    async def send_logs(self, records: list[dict[str, Any]]) -> None:
        # Records of a run this process holds the token of go as that run.
        groups: dict[str | None, list[dict[str, Any]]] = {}
        for record in records:
            run_id = str(record.get("flow_run_id"))
            groups.setdefault(run_id if held_run_token(run_id) else None, []).append(record)
        for speaker, batch in groups.items():
            await self._send("POST", "/logs", json=batch, as_run=speaker)

    @dual
    async def read_logs(
        self, flow_run_id: UUID | str, after_id: int = 0, limit: int = 500, wait: float = 0
    ) -> list[LogRecord]:
        found = await self._send(
            "GET",
            f"/flow_runs/{flow_run_id}/logs",
            params={"after_id": after_id, "limit": limit, "wait": wait},
            timeout=wait + LONG_POLL_SLACK,
        )
        return [LogRecord.model_validate(item) for item in found]

    # --- blocks --------------------------------------------------------------------------------
    @dual
    async def read_block(self, block_type: str, name: str) -> BlockDocument | None:
        try:
            found = await self._send("GET", f"/blocks/{block_type}/{name}")
        except ObjectNotFound:
            return None
        return BlockDocument.model_validate(found)

    @dual
    async def save_block(
        self, block_type: str, name: str, value: Any, overwrite: bool = False
    ) -> BlockDocument:
        found = await self._send(
            "PUT", f"/blocks/{block_type}/{name}", json={"value": value, "overwrite": overwrite}
        )
        return BlockDocument.model_validate(found)

    # --- deployments ---------------------------------------------------------------------------
    @dual
    async def create_deployment(
        self,
        flow_name: str,
        name: str,
        entrypoint: str,
        parameter_schema: dict[str, Any] | None = None,
    ) -> Deployment:
        body = {
            "flow_name": flow_name,
            "name": name,
            "entrypoint": entrypoint,
            "parameter_schema": parameter_schema or {},
        }
        return Deployment.model_validate(await self._send("POST", "/deployments", json=body))

    @dual
    async def read_deployments(self) -> list[Deployment]:
        found = await self._send("GET", "/deployments")
        return [Deployment.model_validate(item) for item in found]

    @dual
    async def run_deployment_by_name(
        self,
        full_name: str,
        parameters: dict[str, Any] | None = None,
        parent_flow_run_id: UUID | str | None = None,
    ) -> FlowRun:
        flow_name, sep, deployment_name = full_name.partition("/")
        if not sep or not flow_name or not deployment_name or "/" in deployment_name:
            raise ValueError(
                f"deployment name {full_name!r} should look like 'flow-name/deployment-name'"
            )
        body = {
            "parameters": parameters or {},
            "parent_flow_run_id": str(parent_flow_run_id) if parent_flow_run_id else None,
        }
        found = await self._send(
            "POST", f"/deployments/name/{flow_name}/{deployment_name}/run", json=body
        )
        return FlowRun.model_validate(found)

    @dual
    async def claim_flow_run(
        self, deployment_ids: Sequence[UUID | str], runner_id: str, wait: float = 0
    ) -> FlowRunWithToken | None:
        body = {
            "deployment_ids": [str(d) for d in deployment_ids],
            "runner_id": runner_id,
            "wait": wait,
        }
        found = await self._send(
            "POST", "/runners/claim", json=body, timeout=wait + LONG_POLL_SLACK
        )
        return FlowRunWithToken.model_validate(found) if found else None

    @dual
    async def release_flow_runs(
        self, flow_run_ids: Sequence[UUID | str], runner_id: str
    ) -> list[str]:
        """Give back runs this runner claimed but never started; the ids released."""
        body = {"flow_run_ids": [str(i) for i in flow_run_ids], "runner_id": runner_id}
        found = await self._send("POST", "/runners/release", json=body, idempotent=True)
        return [str(i) for i in found["released"]]

    # --- inbox ---------------------------------------------------------------------------------
    @dual
    async def read_inbox(
        self, limit: int = 50, offset: int = 0, *, all_waiting: bool = False
    ) -> list[InboxItem]:
        """What waits for the caller (users mode) or for anyone; `all_waiting` (operators,
        admins): every waiting run, each with `can_answer`."""
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if all_waiting:
            params["all"] = "true"
        found = await self._send("GET", "/inbox", params=params)
        return [InboxItem.model_validate(item) for item in found]


def _by_held_token(run_ids: Iterable[str]) -> list[list[str]]:
    """Run ids grouped by the run token this process holds for them (those it holds none for
    together, first)."""
    groups: dict[str | None, list[str]] = {}
    for run_id in run_ids:
        groups.setdefault(held_run_token(run_id), []).append(run_id)
    return list(groups.values())


def get_client(api_url: str | None = None, api_key: str | None = None) -> InloopClient:
    """A client for the configured server; use it with or without `async with` / `await`."""
    return InloopClient(api_url=api_url, api_key=api_key)
