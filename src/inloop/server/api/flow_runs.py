"""Flow runs: create, read, list, wait for change, move between states, pause and resume."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from inloop.bounds import Text
from inloop.schemas import (
    FINAL_STATES,
    FlowRun,
    FlowRunCreate,
    FlowRunWithToken,
    HeartbeatRequest,
    HeartbeatResponse,
    PauseRequest,
    PauseView,
    ResumeRequest,
    SetStateRequest,
    State,
    StateType,
)
from inloop.server import answering
from inloop.server.access import Answerer, Principal, check_run_targets
from inloop.server.api.deps import (
    actor,
    answerer,
    get_db,
    paused_grace,
    remote_address,
    run_tokens,
    users_mode,
    validate_timeout,
)
from inloop.server.api.fast_json import json_response
from inloop.server.api.params import Cursor, Offset, RunId
from inloop.server.api.responses import errors
from inloop.server.database.engine import Database
from inloop.server.errors import Conflict, NotFound
from inloop.server.permissions import principal, require, run_facts
from inloop.server.run_tokens import RunTokens
from inloop.server.store import pauses, runs
from inloop.server.wakeups import wait_until

router = APIRouter(prefix="/flow_runs", tags=["flow runs"])
MAX_WAIT = 60.0
MAX_REF = 200
RESOLVE_CANDIDATES = 10
LIVE = frozenset(StateType) - FINAL_STATES


@router.post(
    "", status_code=201, responses=errors(409, 413, 422),
    dependencies=[require("runs:create")],
)
async def create_flow_run(
    body: FlowRunCreate,
    request: Request,
    caller: Principal = Depends(principal),
    db: Database = Depends(get_db),
    tokens: RunTokens = Depends(run_tokens),
    who: str = Depends(actor),
    remote: str | None = Depends(remote_address),
) -> FlowRunWithToken:
    """Create a run; the answer carries its run token, for the process that will execute it.

    With a run token, only a child of the calling run (a subflow).
    """
    await check_run_targets(
        run_facts(request), caller, "runs:create", [body.parent_flow_run_id], "parent_flow_run_id"
    )
    async with db.transaction() as tx:
        run = await runs.create_run(
            tx,
            flow_name=body.flow_name,
            parameters=body.parameters,
            state=body.state,
            parent_flow_run_id=str(body.parent_flow_run_id) if body.parent_flow_run_id else None,
            name=body.name,
            actor=who,
            remote=remote,
        )
    return FlowRunWithToken(**dict(run), run_token=tokens.mint(run.id))


@router.get("", responses=errors(422), dependencies=[require("runs:read")])
async def list_flow_runs(
    state: list[StateType] | None = Query(default=None),
    flow_name: Annotated[Text | None, Query(max_length=200)] = None,
    deployment_id: Annotated[Text | None, Query(max_length=100)] = None,
    parent_flow_run_id: Annotated[Text | None, Query(max_length=100)] = None,
    limit: int = Query(default=50, ge=1, le=1000),
    offset: Offset = 0,
    db: Database = Depends(get_db),
) -> list[FlowRun]:
    async with db.read() as conn:
        return await runs.list_runs(
            conn,
            states=state,
            flow_name=flow_name,
            deployment_id=deployment_id,
            parent_flow_run_id=parent_flow_run_id,
            limit=limit,
            offset=offset,
        )


@router.get("/resolve", responses=errors(404, 409, 422), dependencies=[require("runs:read")])
async def resolve_flow_run(
    ref: str = Query(
        min_length=1,
        max_length=MAX_REF,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="A run's full id, its name, or an unambiguous start of its id.",
    ),
    db: Database = Depends(get_db),
) -> FlowRun:
    """The one run `ref` names: 404 if none, 409 listing the candidates if several.

    A full id or a name that matches exactly wins over id prefixes it also happens to start.
    """
    async with db.read() as conn:
        found = await runs.resolve_runs(conn, ref, limit=RESOLVE_CANDIDATES + 1)
    wanted = ref.strip()
    exact = [run for run in found if wanted in (str(run.id), run.name)]
    candidates = exact or found
    if not candidates:
        raise NotFound(
            f"no flow run has the id, name or id prefix {ref!r}; "
            "list runs with `inloop flow-run ls`"
        )
    if len(candidates) > 1:
        shown = ", ".join(
            f"{run.id} ({run.name}, {run.state.name})"
            for run in candidates[:RESOLVE_CANDIDATES]
        )
        count = str(len(candidates))
        if len(candidates) > RESOLVE_CANDIDATES:
            count, shown = f"more than {RESOLVE_CANDIDATES}", f"{shown}, ..."
        raise Conflict(
            f"{ref!r} matches {count} flow runs: {shown}; give more of the id, or the full id"
        )
    return candidates[0]


@router.post("/heartbeat", responses=errors(413, 422), dependencies=[require("runs:heartbeat")])
async def heartbeat(
    body: HeartbeatRequest,
    request: Request,
    caller: Principal = Depends(principal),
    db: Database = Depends(get_db),
) -> HeartbeatResponse:
    await check_run_targets(run_facts(request), caller, "runs:heartbeat", body.ids, "ids")
    async with db.transaction() as tx:
        await runs.heartbeat(tx, body.ids, body.runner_id)
    async with db.read() as conn:
        current = await runs.states_of(conn, body.ids)
    stopped = {
        run_id: current.get(run_id, StateType.CANCELLED)
        for run_id in body.ids
        if current.get(run_id) not in LIVE
    }
    return HeartbeatResponse(stopped=stopped)


@router.get(
    "/{flow_run_id}", response_model=FlowRun, responses=errors(404, 422),
    dependencies=[require("runs:read")],
)
async def read_flow_run(flow_run_id: RunId, db: Database = Depends(get_db)) -> Response:
    async with db.read() as conn:
        return json_response(await runs.require_run(conn, flow_run_id), FlowRun)


@router.get(
    "/{flow_run_id}/states", responses=errors(404, 422),
    dependencies=[require("runs:read")],
)
async def read_states(flow_run_id: RunId, db: Database = Depends(get_db)) -> list[State]:
    async with db.read() as conn:
        return await runs.state_history(conn, flow_run_id)


@router.get(
    "/{flow_run_id}/wait", response_model=FlowRun, responses=errors(404, 422),
    dependencies=[require("runs:read")],
)
async def wait_for_change(
    flow_run_id: RunId,
    after_seq: Cursor = 0,
    timeout: float = Query(default=30.0, ge=0, le=MAX_WAIT),
    db: Database = Depends(get_db),
) -> Response:
    """Long-poll: answer as soon as the run's state_seq passes `after_seq` (or at timeout)."""
    async with db.read() as conn:
        await runs.require_run(conn, flow_run_id)

    async def changed() -> FlowRun | None:
        async with db.read() as conn:
            run = await runs.require_run(conn, flow_run_id)
        return run if run.state_seq > after_seq else None

    found = await wait_until(db.hub, [f"run:{flow_run_id}"], changed, timeout)
    if found is None:
        async with db.read() as conn:
            found = await runs.require_run(conn, flow_run_id)
    return json_response(found, FlowRun)


@router.post(
    "/{flow_run_id}/set_state", responses=errors(404, 409, 413, 422),
    dependencies=[require("runs:set_state")],
)
async def set_state(
    flow_run_id: RunId,
    body: SetStateRequest,
    db: Database = Depends(get_db),
    who: str = Depends(actor),
    remote: str | None = Depends(remote_address),
) -> FlowRun:
    async with db.transaction() as tx:
        return await runs.set_state(
            tx,
            flow_run_id,
            body.type,
            message=body.message,
            details=body.details,
            expected_seq=body.expected_seq,
            actor=who,
            remote=remote,
        )


@router.post(
    "/{flow_run_id}/cancel", responses=errors(404, 409, 422),
    dependencies=[require("runs:cancel")],
)
async def cancel(
    flow_run_id: RunId,
    who: str = Depends(actor),
    remote: str | None = Depends(remote_address),
    db: Database = Depends(get_db),
) -> FlowRun:
    async with db.transaction() as tx:
        return await runs.set_state(
            tx,
            flow_run_id,
            StateType.CANCELLED,
            message=f"cancelled by {who}",
            details={"cancelled_by": who},
            actor=who,
            remote=remote,
        )


@router.post(
    "/{flow_run_id}/pause", responses=errors(404, 409, 413, 422),
    dependencies=[require("runs:pause")],
)
async def pause(
    flow_run_id: RunId,
    body: PauseRequest,
    db: Database = Depends(get_db),
    who: str = Depends(actor),
    remote: str | None = Depends(remote_address),
) -> FlowRun:
    async with db.transaction() as tx:
        return await pauses.pause_run(tx, flow_run_id, body, actor=who, remote=remote)


@router.get(
    "/{flow_run_id}/pause", responses=errors(404, 409, 422),
    dependencies=[require("runs:read")],
)
async def read_pause(
    flow_run_id: RunId,
    who: Answerer = Depends(answerer),
    people: bool = Depends(users_mode),
    db: Database = Depends(get_db),
) -> PauseView:
    """The pause, with `can_answer` (and `cannot_answer_because`) for the caller."""
    async with db.read() as conn:
        found = await pauses.read_pause(conn, flow_run_id, who, users_mode=people)
    return PauseView.model_validate(found)


@router.post(
    "/{flow_run_id}/resume", responses=errors(403, 404, 409, 413, 422),
    dependencies=[require("runs:resume")],
)
async def resume(
    flow_run_id: RunId,
    # Optional, like the reference: a bodiless POST resumes without input.
    body: ResumeRequest | None = None,
    by: Answerer = Depends(answerer),
    people: bool = Depends(users_mode),
    grace: float | None = Depends(paused_grace),
    verdict_wait: float = Depends(validate_timeout),
    remote: str | None = Depends(remote_address),
    db: Database = Depends(get_db),
) -> FlowRun:
    """Answer a pause. 403 naming the rule when the pause's assignees or self-approval rule
    refuse the caller (see inloop.server.access); the refusal is recorded as an event."""
    run_input = body.run_input if body is not None else None
    return await answering.resume(
        db, flow_run_id, run_input, answerer=by, users_mode=people, grace=grace,
        remote=remote, verdict_wait=verdict_wait,
    )
