"""Flow runs: create, read and wait for them, change their state, pause and resume them, keep
them alive (heartbeats), and their logs and stored task results.

Each function is a method of `InloopClient` (bound there, so `client.read_flow_run(id)`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from inloop._dual import dual
from inloop.assignees import check_assignees
from inloop.client._http import LONG_POLL_SLACK, BaseClient, ObjectNotFound
from inloop.context import held_run_token
from inloop.schemas import (
    FlowRun,
    FlowRunWithToken,
    LogRecord,
    PauseView,
    State,
    StateType,
    TaskResult,
)

__all__ = [
    "cancel_flow_run",
    "create_flow_run",
    "heartbeat",
    "pause_flow_run",
    "read_flow_run",
    "read_flow_run_states",
    "read_flow_runs",
    "read_logs",
    "read_pause",
    "read_task_result",
    "resolve_flow_run",
    "resume_flow_run",
    "send_logs",
    "set_flow_run_state",
    "store_task_result",
    "wait_for_flow_run_change",
]

# In the server's 404 for a task call with no stored result yet (not a missing run).
NO_STORED_RESULT = "no stored result"


@dual
async def create_flow_run(
    client: BaseClient,
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
    found = await client._send("POST", "/flow_runs", json=body)
    return FlowRunWithToken.model_validate(found)


@dual
async def read_flow_run(client: BaseClient, flow_run_id: UUID | str) -> FlowRun:
    found = await client._send("GET", f"/flow_runs/{flow_run_id}", as_run=flow_run_id)
    return FlowRun.model_validate(found)


@dual
async def resolve_flow_run(client: BaseClient, ref: str) -> FlowRun:
    """The run named by its full id, its name, or an unambiguous start of its id."""
    found = await client._send("GET", "/flow_runs/resolve", params={"ref": ref})
    return FlowRun.model_validate(found)


@dual
async def read_flow_runs(
    client: BaseClient,
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
    found = await client._send("GET", "/flow_runs", params=params)
    return [FlowRun.model_validate(item) for item in found]


@dual
async def read_flow_run_states(client: BaseClient, flow_run_id: UUID | str) -> list[State]:
    found = await client._send("GET", f"/flow_runs/{flow_run_id}/states", as_run=flow_run_id)
    return [State.model_validate(item) for item in found]


@dual
async def wait_for_flow_run_change(
    client: BaseClient, flow_run_id: UUID | str, after_seq: int, timeout: float = 30.0
) -> FlowRun:
    found = await client._send(
        "GET",
        f"/flow_runs/{flow_run_id}/wait",
        params={"after_seq": after_seq, "timeout": timeout},
        timeout=timeout + LONG_POLL_SLACK,
        as_run=flow_run_id,
    )
    return FlowRun.model_validate(found)


@dual
async def set_flow_run_state(
    client: BaseClient,
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
    found = await client._send(
        "POST", f"/flow_runs/{flow_run_id}/set_state", json=body, as_run=flow_run_id
    )
    return FlowRun.model_validate(found)


@dual
async def cancel_flow_run(client: BaseClient, flow_run_id: UUID | str) -> FlowRun:
    found = await client._send("POST", f"/flow_runs/{flow_run_id}/cancel")
    return FlowRun.model_validate(found)


# --- pause and resume ---------------------------------------------------------------------------
@dual
async def pause_flow_run(
    client: BaseClient,
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
    found = await client._send("POST", f"/flow_runs/{flow_run_id}/pause", json=body)
    return FlowRun.model_validate(found)


@dual
async def read_pause(client: BaseClient, flow_run_id: UUID | str) -> PauseView:
    """What the paused run asks for, and whether this client may answer it."""
    return PauseView.model_validate(await client._send("GET", f"/flow_runs/{flow_run_id}/pause"))


@dual
async def resume_flow_run(
    client: BaseClient, flow_run_id: UUID | str, run_input: dict[str, Any] | None = None
) -> FlowRun:
    found = await client._send(
        "POST", f"/flow_runs/{flow_run_id}/resume", json={"run_input": run_input}
    )
    return FlowRun.model_validate(found)


# --- liveness -----------------------------------------------------------------------------------
@dual
async def heartbeat(
    client: BaseClient, flow_run_ids: Sequence[UUID | str], runner_id: str | None = None
) -> dict[str, StateType]:
    stopped: dict[str, StateType] = {}
    ids_ = [str(i) for i in flow_run_ids]
    # A runner beats for all its runs at once, with its own credential; a flow process
    # beats each run it holds the token of as that run (the rest together).
    groups = [ids_] if runner_id is not None else _by_held_token(ids_)
    for ids in groups:
        body = {"ids": ids, "runner_id": runner_id}
        found = await client._send(
            "POST", "/flow_runs/heartbeat", json=body, idempotent=True,
            as_run=ids[0] if runner_id is None else None, lane="liveness",
        )
        stopped.update((k, StateType(v)) for k, v in found["stopped"].items())
    return stopped


def _by_held_token(run_ids: Iterable[str]) -> list[list[str]]:
    """Run ids grouped by the run token this process holds for them (those it holds none for
    together, first)."""
    groups: dict[str | None, list[str]] = {}
    for run_id in run_ids:
        groups.setdefault(held_run_token(run_id), []).append(run_id)
    return list(groups.values())


# --- logs ---------------------------------------------------------------------------------------
@dual
async def send_logs(client: BaseClient, records: list[dict[str, Any]]) -> None:
    # Records of a run this process holds the token of go as that run.
    groups: dict[str | None, list[dict[str, Any]]] = {}
    for record in records:
        run_id = str(record.get("flow_run_id"))
        groups.setdefault(run_id if held_run_token(run_id) else None, []).append(record)
    for speaker, batch in groups.items():
        await client._send("POST", "/logs", json=batch, as_run=speaker)


@dual
async def read_logs(
    client: BaseClient,
    flow_run_id: UUID | str,
    after_id: int = 0,
    limit: int = 500,
    wait: float = 0,
) -> list[LogRecord]:
    found = await client._send(
        "GET",
        f"/flow_runs/{flow_run_id}/logs",
        params={"after_id": after_id, "limit": limit, "wait": wait},
        timeout=wait + LONG_POLL_SLACK,
    )
    return [LogRecord.model_validate(item) for item in found]


# --- stored task results ------------------------------------------------------------------------
@dual
async def read_task_result(
    client: BaseClient, flow_run_id: UUID | str, task_key: str
) -> tuple[bool, Any]:
    """(True, result) when this task call already has a stored result, else (False, None).

    Raises `ConflictError` when the run may not start a task now (suspended from outside, or
    cancelled).
    """
    try:
        found = await client._send("GET", f"/flow_runs/{flow_run_id}/task_results/{task_key}")
    except ObjectNotFound as exc:
        if NO_STORED_RESULT in str(exc.detail):
            return False, None
        raise
    return True, found["result"]


@dual
async def store_task_result(
    client: BaseClient, flow_run_id: UUID | str, task_key: str, task_name: str, result: Any
) -> TaskResult:
    """Store a task call's result (the first write wins) and return the stored one (its
    `result`: the first write's)."""
    found = await client._send(
        "PUT",
        f"/flow_runs/{flow_run_id}/task_results/{task_key}",
        json={"task_name": task_name, "result": result},
    )
    return TaskResult.model_validate(found)
