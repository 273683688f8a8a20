"""The inbox: the runs that wait for a person (paused or suspended), oldest first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from inloop.schemas import FlowRun, InboxItem, StateType
from inloop.server.database.engine import Connection
from inloop.server.database.schema import flow_runs
from inloop.server.store import runs

__all__ = ["count_waiting", "list_waiting"]

S = StateType
INBOX_BATCH = 500


def _inbox_query() -> sa.Select[Any]:
    return runs.RUN_SELECT.where(flow_runs.c.state_type.in_([S.PAUSED.value, S.SUSPENDED.value]))


def _inbox_item(row: Any, run: FlowRun, can_answer: bool) -> InboxItem:
    description = run.pause.description if run.pause else None
    first_line = None
    if description:
        first_line = next((ln.strip() for ln in description.splitlines() if ln.strip()), None)
    return InboxItem(
        flow_run=run,
        description_first_line=first_line,
        waiting_since=row.pause_started or row.state_timestamp,
        deadline=row.pause_deadline,
        can_answer=can_answer,
    )


async def list_waiting(
    conn: Connection,
    *,
    limit: int = 50,
    offset: int = 0,
    may_answer: Callable[[FlowRun], bool] | None = None,
    only_answerable: bool = False,
) -> list[InboxItem]:
    """Waiting runs, oldest first, each marked with `may_answer(run)`.

    With `only_answerable`, the runs `may_answer` refuses are left out before paging, so
    `offset` counts only what the caller sees. Who may answer depends on rules kept in Python
    (access.refusal), so those pages are read in batches and filtered here.
    """
    query = _inbox_query().order_by(flow_runs.c.pause_started, flow_runs.c.id)
    items: list[InboxItem] = []
    if not only_answerable or may_answer is None:
        for row in await conn.execute(query.limit(limit).offset(offset)):
            run = runs.to_flow_run(row)
            items.append(_inbox_item(row, run, may_answer(run) if may_answer else True))
        return items
    skip = offset
    read = 0
    while len(items) < limit:
        batch = (await conn.execute(query.limit(INBOX_BATCH).offset(read))).all()
        read += len(batch)
        for row in batch:
            run = runs.to_flow_run(row)
            if not may_answer(run):
                continue
            if skip:
                skip -= 1
                continue
            items.append(_inbox_item(row, run, True))
            if len(items) == limit:
                break
        if len(batch) < INBOX_BATCH:
            break
    return items


async def count_waiting(
    conn: Connection, may_answer: Callable[[FlowRun], bool] | None = None
) -> int:
    """How many runs wait; with `may_answer`, how many of them that caller may answer."""
    if may_answer is not None:
        rows = await conn.execute(_inbox_query())
        return sum(1 for row in rows if may_answer(runs.to_flow_run(row)))
    query = sa.select(sa.func.count()).select_from(flow_runs).where(
        flow_runs.c.state_type.in_([S.PAUSED.value, S.SUSPENDED.value])
    )
    return int((await conn.execute(query)).scalar_one())
