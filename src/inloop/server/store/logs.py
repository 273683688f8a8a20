"""All reads and writes of run logs."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from inloop.schemas import LogCreate, LogRecord
from inloop.server.database.engine import Connection, Tx
from inloop.server.database.schema import flow_runs, logs

__all__ = ["append_logs", "read_logs"]


def _to_record(row: Any) -> LogRecord:
    return LogRecord(
        id=row.id,
        flow_run_id=row.flow_run_id,
        level=row.level,
        level_name=logging.getLevelName(row.level),
        logger=row.logger,
        message=row.message,
        timestamp=row.timestamp,
    )


async def append_logs(tx: Tx, records: list[LogCreate]) -> int:
    """Store a batch; records for runs that do not exist are dropped, not failed."""
    if not records:
        return 0
    run_ids = {str(r.flow_run_id) for r in records}
    known = {
        row[0]
        for row in await tx.execute(sa.select(flow_runs.c.id).where(flow_runs.c.id.in_(run_ids)))
    }
    rows = [
        {
            "flow_run_id": str(r.flow_run_id),
            "level": r.level,
            "logger": r.logger,
            "message": r.message,
            "timestamp": r.timestamp,
        }
        for r in records
        if str(r.flow_run_id) in known
    ]
    if rows:
        await tx.execute(logs.insert(), rows)
        tx.notify(*(f"logs:{run_id}" for run_id in known))
    return len(rows)


async def read_logs(
    conn: Connection, run_id: str, *, after_id: int = 0, limit: int = 500
) -> list[LogRecord]:
    query = (
        sa.select(logs)
        .where(logs.c.flow_run_id == run_id)
        .where(logs.c.id > after_id)
        .order_by(logs.c.id)
        .limit(limit)
    )
    return [_to_record(row) for row in await conn.execute(query)]
