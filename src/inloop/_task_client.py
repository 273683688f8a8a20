"""HTTP calls for stored task results (kept beside the client, which another area owns)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from inloop.client import ObjectNotFound, get_client

__all__ = ["read_task_result", "store_task_result"]

_MISSING = "no stored result"


async def read_task_result(flow_run_id: UUID | str, task_key: str) -> tuple[bool, Any]:
    """(True, result) when this task call already has a stored result, else (False, None)."""
    try:
        found = await get_client()._send(
            "GET", f"/flow_runs/{flow_run_id}/task_results/{task_key}"
        )
    except ObjectNotFound as exc:
        if _MISSING in str(exc.detail):
            return False, None
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
