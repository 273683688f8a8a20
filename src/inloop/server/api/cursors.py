"""Receive cursors: where a run's named `receive_input(..., cursor=...)` has read up to."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from inloop.schemas import CursorPut, ReceiveCursor
from inloop.server.api.deps import get_db
from inloop.server.api.params import RunId
from inloop.server.api.responses import errors
from inloop.server.database.engine import Database
from inloop.server.permissions import require
from inloop.server.store import cursors, runs

router = APIRouter(prefix="/flow_runs/{flow_run_id}/cursors", tags=["inputs"])

CursorName = Annotated[str, Path(min_length=1, max_length=100)]


@router.get("/{name}", responses=errors(404, 422), dependencies=[require("runs:read")])
async def read_cursor(
    flow_run_id: RunId, name: CursorName, db: Database = Depends(get_db)
) -> ReceiveCursor:
    """The input `seq` this cursor has read up to (0 when it never moved)."""
    cursors.check_name(name)
    async with db.read() as conn:
        await runs.require_run_exists(conn, flow_run_id)
        after_seq = await cursors.read_cursor(conn, flow_run_id, name)
    return ReceiveCursor(flow_run_id=flow_run_id, name=name, after_seq=after_seq)


@router.put(
    "/{name}", responses=errors(401, 403, 404, 422), dependencies=[require("cursors:write")]
)
async def advance_cursor(
    flow_run_id: RunId, name: CursorName, body: CursorPut, db: Database = Depends(get_db)
) -> ReceiveCursor:
    """Move the cursor forward to `after_seq`; a cursor never moves back (the answer says
    where it stands)."""
    cursors.check_name(name)
    async with db.transaction() as tx:
        after_seq = await cursors.advance_cursor(tx, flow_run_id, name, body.after_seq)
    return ReceiveCursor(flow_run_id=flow_run_id, name=name, after_seq=after_seq)
