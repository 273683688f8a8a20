"""Run logs: batches in, pages (and long-polls) out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request

from inloop.schemas import LogCreate, LogRecord, Stored
from inloop.server.access import Principal, check_run_targets
from inloop.server.api.deps import get_db
from inloop.server.api.params import Cursor, RunId
from inloop.server.api.responses import errors
from inloop.server.database.engine import Database
from inloop.server.permissions import principal, require, run_facts
from inloop.server.store import logs, runs
from inloop.server.wakeups import wait_until

router = APIRouter(tags=["logs"])


@router.post(
    "/logs", status_code=201, responses=errors(413, 422),
    dependencies=[require("logs:write")],
)
async def append_logs(
    body: Annotated[list[LogCreate], Body(max_length=10_000)],
    request: Request,
    caller: Principal = Depends(principal),
    db: Database = Depends(get_db),
) -> Stored:
    """Store a batch of records; with a run token, only records of its run and its children."""
    await check_run_targets(
        run_facts(request), caller, "logs:write", {str(r.flow_run_id) for r in body}, "flow_run_id"
    )
    async with db.transaction() as tx:
        return Stored(stored=await logs.append_logs(tx, body))


@router.get(
    "/flow_runs/{flow_run_id}/logs", responses=errors(404, 422),
    dependencies=[require("runs:read")],
)
async def read_logs(
    flow_run_id: RunId,
    after_id: Cursor = 0,
    limit: int = Query(default=500, ge=1, le=5000),
    wait: float = Query(default=0, ge=0, le=60),
    db: Database = Depends(get_db),
) -> list[LogRecord]:
    async with db.read() as conn:
        await runs.require_run(conn, flow_run_id)

    async def newer() -> list[LogRecord] | None:
        async with db.read() as conn:
            found = await logs.read_logs(conn, flow_run_id, after_id=after_id, limit=limit)
        return found or None

    return await wait_until(db.hub, [f"logs:{flow_run_id}"], newer, wait) or []
