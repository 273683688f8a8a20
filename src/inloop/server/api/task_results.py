"""Stored task results of a flow run, so a run executed again does not redo finished tasks."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path

from inloop.schemas import StateType, TaskResult, TaskResultPut
from inloop.server.api.deps import get_db
from inloop.server.api.params import RunId
from inloop.server.api.responses import errors
from inloop.server.database.engine import Database
from inloop.server.errors import Conflict, NotFound
from inloop.server.permissions import require
from inloop.server.store import runs, task_results

router = APIRouter(prefix="/flow_runs", tags=["task results"])

TaskKey = Path(pattern=task_results.TASK_KEY_PATTERN, max_length=300)


@router.get(
    "/{flow_run_id}/task_results/{task_key}", responses=errors(404, 422),
    dependencies=[require("runs:read")],
)
async def read_task_result(
    flow_run_id: RunId, task_key: str = TaskKey, db: Database = Depends(get_db)
) -> TaskResult:
    async with db.read() as conn:
        run = await runs.require_run(conn, flow_run_id)
        stored = await task_results.read_result(conn, flow_run_id, task_key)
    if stored is None and run.state.type is StateType.SUSPENDED:
        # The flow asks before each task it is about to run: a run suspended from outside
        # stops here, at its next task, with no extra request on the task's path.
        raise Conflict(
            f"flow run '{run.name}' is Suspended; task '{task_key}' runs when the flow run is "
            "resumed and executed again"
        )
    if stored is None and run.state.type is StateType.CANCELLED:
        # Likewise a cancelled run stops at its next task (if no heartbeat stopped it first).
        raise Conflict(f"flow run '{run.name}' is Cancelled; task '{task_key}' does not run")
    if stored is None:
        raise NotFound(
            f"no stored result for task key '{task_key}' of flow run '{run.name}' "
            f"(state: {run.state.name})"
        )
    return TaskResult(**stored)


@router.put(
    "/{flow_run_id}/task_results/{task_key}", responses=errors(404, 413, 422),
    dependencies=[require("task_results:write")],
)
async def put_task_result(
    flow_run_id: RunId,
    body: TaskResultPut,
    task_key: str = TaskKey,
    db: Database = Depends(get_db),
) -> TaskResult:
    async with db.transaction() as tx:
        stored = await task_results.put_result(
            tx, flow_run_id, task_key, body.task_name, body.result
        )
    return TaskResult(**stored)
