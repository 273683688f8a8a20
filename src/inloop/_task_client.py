"""HTTP calls for stored task results (kept beside the client, which another area owns)."""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from inloop.client import Conflict, ObjectNotFound, get_client
from inloop.engine import FlowRunCancelled, FlowRunSuspended
from inloop.schemas import StateType

__all__ = ["read_task_result", "store_task_result"]

_MISSING = "no stored result"
log = logging.getLogger("inloop.engine")


async def read_task_result(flow_run_id: UUID | str, task_key: str) -> tuple[bool, Any]:
    """(True, result) when this task call already has a stored result, else (False, None).

    Raises FlowRunSuspended when the run was suspended from outside, FlowRunCancelled when it
    was cancelled: the task must not start.
    """
    client = get_client()
    try:
        found = await client._send("GET", f"/flow_runs/{flow_run_id}/task_results/{task_key}")
    except ObjectNotFound as exc:
        if _MISSING in str(exc.detail):
            return False, None
        raise
    except Conflict:
        # Rare, so one more read to be sure the conflict is the suspension (or a cancel).
        run = await client.read_flow_run(flow_run_id)
        if run.state.is_suspended():
            log.info("Flow run %s was suspended from outside; stopping before task '%s'",
                     flow_run_id, task_key)
            raise FlowRunSuspended(task_key) from None
        if run.state.type is StateType.CANCELLED:
            raise FlowRunCancelled.of(run, where=f"before task '{task_key}'") from None
        raise
    return True, found["result"]


async def store_task_result(
    flow_run_id: UUID | str, task_key: str, task_name: str, result: Any
) -> Any:
    """Store a result (first write wins) and return the stored one."""
    found = await get_client()._send(
        "PUT",
        f"/flow_runs/{flow_run_id}/task_results/{task_key}",
        json={"task_name": task_name, "result": result},
    )
    return found["result"]
