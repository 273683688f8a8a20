"""Flow runs: create, read, list, wait for change, move between states, pause and resume."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from inloop.bounds import Text
from inloop.schemas import (
    FINAL_STATES,
    FlowRun,
    FlowRunCreate,
    PauseRequest,
    ResumeRequest,
    SetStateRequest,
    State,
    StateType,
)
from inloop.server.api.deps import actor, get_db
from inloop.server.api.fast_json import json_response
from inloop.server.api.params import Cursor, Offset, RunId
from inloop.server.api.responses import errors
from inloop.server.database.engine import Database
from inloop.server.store import pauses, runs
from inloop.server.wakeups import wait_until

router = APIRouter(prefix="/flow_runs", tags=["flow runs"])
MAX_WAIT = 60.0
LIVE = frozenset(StateType) - FINAL_STATES


class HeartbeatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[Annotated[Text, Field(max_length=100)]] = Field(max_length=10_000)
    runner_id: Text | None = Field(default=None, max_length=100)


class HeartbeatResponse(BaseModel):
    # Runs among `ids` that are no longer live (cancelled, crashed, ...): their process should stop.
    stopped: dict[str, StateType]


@router.post("", status_code=201, responses=errors(409, 413, 422))
async def create_flow_run(body: FlowRunCreate, db: Database = Depends(get_db)) -> FlowRun:
    async with db.transaction() as tx:
        return await runs.create_run(
            tx,
            flow_name=body.flow_name,
            parameters=body.parameters,
            state=body.state,
            parent_flow_run_id=str(body.parent_flow_run_id) if body.parent_flow_run_id else None,
            name=body.name,
        )


@router.get("", responses=errors(422))
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


@router.post("/heartbeat", responses=errors(413, 422))
async def heartbeat(body: HeartbeatRequest, db: Database = Depends(get_db)) -> HeartbeatResponse:
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


@router.get("/{flow_run_id}", response_model=FlowRun, responses=errors(404, 422))
async def read_flow_run(flow_run_id: RunId, db: Database = Depends(get_db)) -> Response:
    async with db.read() as conn:
        return json_response(await runs.require_run(conn, flow_run_id), FlowRun)


@router.get("/{flow_run_id}/states", responses=errors(404, 422))
async def read_states(flow_run_id: RunId, db: Database = Depends(get_db)) -> list[State]:
    async with db.read() as conn:
        return await runs.state_history(conn, flow_run_id)


@router.get("/{flow_run_id}/wait", response_model=FlowRun, responses=errors(404, 422))
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


@router.post("/{flow_run_id}/set_state", responses=errors(404, 409, 413, 422))
async def set_state(
    flow_run_id: RunId, body: SetStateRequest, db: Database = Depends(get_db)
) -> FlowRun:
    async with db.transaction() as tx:
        return await runs.set_state(
            tx,
            flow_run_id,
            body.type,
            message=body.message,
            details=body.details,
            expected_seq=body.expected_seq,
        )


@router.post("/{flow_run_id}/cancel", responses=errors(404, 409, 422))
async def cancel(
    flow_run_id: RunId, who: str = Depends(actor), db: Database = Depends(get_db)
) -> FlowRun:
    async with db.transaction() as tx:
        return await runs.set_state(
            tx,
            flow_run_id,
            StateType.CANCELLED,
            message=f"cancelled by {who}",
            details={"cancelled_by": who},
        )


@router.post("/{flow_run_id}/pause", responses=errors(404, 409, 413, 422))
async def pause(flow_run_id: RunId, body: PauseRequest, db: Database = Depends(get_db)) -> FlowRun:
    async with db.transaction() as tx:
        return await pauses.pause_run(tx, flow_run_id, body)


@router.get("/{flow_run_id}/pause", responses=errors(404, 409, 422))
async def read_pause(flow_run_id: RunId, db: Database = Depends(get_db)) -> dict[str, Any]:
    async with db.read() as conn:
        return await pauses.read_pause(conn, flow_run_id)


@router.post("/{flow_run_id}/resume", responses=errors(404, 409, 413, 422))
async def resume(
    flow_run_id: RunId,
    body: ResumeRequest,
    who: str = Depends(actor),
    db: Database = Depends(get_db),
) -> FlowRun:
    async with db.transaction() as tx:
        return await pauses.resume_run(tx, flow_run_id, body.run_input, who)
