"""All reads and writes of stored task results: one row per (flow run, task key).

A result is written once: the first execution of a task call stores it, and a run executed again
after a suspension reads it back instead of running the task again.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from inloop.server.database.engine import Connection, Tx
from inloop.server.database.schema import task_run_results, utcnow
from inloop.server.errors import Invalid
from inloop.server.store import runs

__all__ = ["TASK_KEY_PATTERN", "put_result", "read_result"]

TASK_KEY_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,299}$"


def _to_dict(row: Any) -> dict[str, Any]:
    return {
        "flow_run_id": row.flow_run_id,
        "task_key": row.task_key,
        "task_name": row.task_name,
        "result": row.result,
        "created": row.created,
    }


async def read_result(
    conn: Connection, run_id: str, task_key: str
) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            sa.select(task_run_results)
            .where(task_run_results.c.flow_run_id == run_id)
            .where(task_run_results.c.task_key == task_key)
        )
    ).first()
    return _to_dict(row) if row is not None else None


async def put_result(
    tx: Tx, run_id: str, task_key: str, task_name: str, result: Any
) -> dict[str, Any]:
    """Store a result unless one is already stored; return the stored one (first write wins)."""
    if not task_name or len(task_name) > 200:
        raise Invalid(
            [{"loc": ["body", "task_name"], "msg": "task_name must be 1 to 200 characters",
              "type": "value_error"}]
        )
    await runs.require_run_exists(tx, run_id)
    values = {
        "flow_run_id": run_id,
        "task_key": task_key,
        "task_name": task_name,
        "result": result,
        "created": utcnow(),
    }
    if tx.conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement: Any = pg_insert(task_run_results).values(**values).on_conflict_do_nothing()
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(task_run_results).values(**values).on_conflict_do_nothing()
    await tx.execute(statement)
    stored = await read_result(tx, run_id, task_key)
    assert stored is not None
    return stored
