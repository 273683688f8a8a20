"""All writes and reads of the events table: the audit trail, and the feed automations read.

`record()` is called from the one place each change happens, with the transaction that makes
the change, so an event and its change commit together or not at all. The rows are inserted as
the transaction's last statements. On PostgreSQL that insert first takes a transaction-level
advisory lock, held until commit: event ids then follow commit order, so a reader paging with
`after_id` never sees id 12 commit before id 11 and skip it. The lock is the last one a
transaction takes, so it cannot close a deadlock cycle with row locks. (SQLite has one writer.)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from inloop.schemas import Event
from inloop.server.database.engine import Connection, Tx
from inloop.server.database.schema import events, flow_runs, utcnow
from inloop.server.store import deliveries

__all__ = ["MAX_PAGE", "TOPIC", "query_events", "record"]

TOPIC = "events"
MAX_PAGE = 1000
EVENTS_LOCK = 4201  # pg_advisory_xact_lock key; 4200 guards migrations
MAX_TEXT = 500  # longer strings in details (a failure message) are cut to this


def _small(details: dict[str, Any]) -> dict[str, Any]:
    """Details stay small: drop empty values, cut long strings."""
    kept: dict[str, Any] = {}
    for name, value in details.items():
        if value is None:
            continue
        if isinstance(value, str) and len(value) > MAX_TEXT:
            value = value[:MAX_TEXT] + "…"
        kept[name] = value
    return kept


async def record(
    tx: Tx,
    kind: str,
    *,
    actor: str | None = None,
    flow_run_id: str | None = None,
    remote: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add an event to `tx`; it is written with the transaction's commit, never without it."""
    if not tx.events:
        tx.before_commit(_write_pending)
    tx.events.append(
        {
            "occurred": utcnow(),
            "kind": kind,
            "actor": actor[:300] if actor else None,
            "flow_run_id": flow_run_id,
            "remote": remote[:100] if remote else None,
            "details": _small(details or {}),
        }
    )
    tx.notify(TOPIC)


async def _write_pending(tx: Tx) -> None:
    if not tx.events:
        return
    pending = list(tx.events)
    tx.events.clear()
    # The deliveries automations owe these events are worked out first: that reads (and, on
    # PostgreSQL, key-share locks) the automations, and row locks must come before the
    # events lock below, never after it.
    planned = await deliveries.plan(tx, pending)
    if tx.dialect.name == "postgresql":
        await tx.execute(sa.select(sa.func.pg_advisory_xact_lock(EVENTS_LOCK)))
    if not planned:
        await tx.execute(events.insert(), pending)
        return
    # Deliveries point at their event, so these rows are written one by one for their ids;
    # the event and what it owes commit together.
    ids = []
    for event in pending:
        result = await tx.execute(events.insert().returning(events.c.id), event)
        ids.append(int(result.scalar_one()))
    await deliveries.write_planned(tx, planned, ids)


_SELECT = sa.select(events, flow_runs.c.name.label("flow_run_name")).select_from(
    events.outerjoin(flow_runs, flow_runs.c.id == events.c.flow_run_id)
)


async def query_events(
    conn: Connection,
    *,
    kind: str | None = None,
    flow_run_id: str | None = None,
    actor: str | None = None,
    has_actor: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_id: int | None = None,
    before_id: int | None = None,
    newest_first: bool = False,
    limit: int = 100,
) -> list[Event]:
    """Events matching every filter given; `kind` is a prefix (`flow-run.` is every run event).

    Paged by id: oldest first continues with `after_id` = the last id seen, newest first with
    `before_id` = the last id seen.
    """
    query = _SELECT
    if kind:
        query = query.where(events.c.kind.startswith(kind, autoescape=True))
    if flow_run_id:
        query = query.where(events.c.flow_run_id == flow_run_id)
    if actor:
        query = query.where(events.c.actor == actor)
    if has_actor is True:
        query = query.where(events.c.actor.is_not(None))
    elif has_actor is False:
        query = query.where(events.c.actor.is_(None))
    if since is not None:
        query = query.where(events.c.occurred >= since)
    if until is not None:
        query = query.where(events.c.occurred < until)
    if after_id is not None:
        query = query.where(events.c.id > after_id)
    if before_id is not None:
        query = query.where(events.c.id < before_id)
    order = events.c.id.desc() if newest_first else events.c.id.asc()
    query = query.order_by(order).limit(min(limit, MAX_PAGE))
    return [
        Event(
            id=row.id,
            occurred=row.occurred,
            kind=row.kind,
            actor=row.actor,
            flow_run_id=row.flow_run_id,
            flow_run_name=row.flow_run_name,
            remote=row.remote,
            details=row.details or {},
        )
        for row in await conn.execute(query)
    ]
