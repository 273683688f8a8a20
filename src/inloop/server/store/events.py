"""All writes and reads of the events table: the audit trail, and the feed automations read.

`record()` is called from the one place each change happens, with the transaction that makes
the change, so an event and its change commit together or not at all. The rows are inserted as
the transaction's last statements. On PostgreSQL that insert first takes a transaction-level
advisory lock, held until commit: event ids then follow commit order, so a reader paging with
`after_id` never sees id 12 commit before id 11 and skip it. The lock is the last one a
transaction takes, so it cannot close a deadlock cycle with row locks. (SQLite has one writer.)

What else an event must cause in its transaction (the deliveries automations owe it) is a hook
the owner of that registers on the database at start-up (`on_recorded`): this module knows only
events.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from inloop.event_kinds import EventKind
from inloop.schemas import Event
from inloop.server.database.engine import Connection, Database, EventHook, EventsWritten, Tx
from inloop.server.database.schema import (
    DELIVERY_PENDING,
    automation_deliveries,
    events,
    flow_runs,
    utcnow,
)

__all__ = [
    "ADMIN_ONLY_KINDS",
    "MAX_PAGE",
    "TOPIC",
    "delete_older_than",
    "failed_sign_ins",
    "on_recorded",
    "query_events",
    "record",
]

TOPIC = "events"
# Shown to admins only: a failed sign-in's actor is the name as typed, which is sometimes the
# password typed into the wrong field.
ADMIN_ONLY_KINDS: tuple[str, ...] = (EventKind.SESSION_SIGN_IN_FAILED.value,)
MAX_PAGE = 1000
EVENTS_LOCK = 4201  # pg_advisory_xact_lock key; 4200 guards migrations
MAX_TEXT = 500  # longer strings in details (a failure message) are cut to this
# Failed sign-ins counted at most: past a few dozen the throttle's wait is at its cap anyway.
MAX_FAILURES_COUNTED = 64


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


def on_recorded(db: Database, hook: EventHook) -> None:
    """Call `hook` in every transaction of `db` that records events, with the event rows, before
    they are written; what it returns, if anything, is called with their ids once written."""
    if hook not in db.event_hooks:
        db.event_hooks.append(hook)


async def record(
    tx: Tx,
    kind: EventKind,
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
            "kind": EventKind(kind).value,
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
    # The hooks run first: what they read (the deliveries planner reads, and on PostgreSQL
    # key-share locks, the automations) takes its row locks before the events lock below,
    # never after it.
    follow_ups: list[EventsWritten] = []
    for hook in tx.event_hooks:
        follow_up = await hook(tx, pending)
        if follow_up is not None:
            follow_ups.append(follow_up)
    if tx.dialect.name == "postgresql":
        await tx.execute(sa.select(sa.func.pg_advisory_xact_lock(EVENTS_LOCK)))
    if not follow_ups:
        await tx.execute(events.insert(), pending)
        return
    # What the hooks wrote points at the events, so these rows are written one by one for
    # their ids; the events and what they caused commit together.
    ids = []
    for event in pending:
        result = await tx.execute(events.insert().returning(events.c.id), event)
        ids.append(int(result.scalar_one()))
    for follow_up in follow_ups:
        await follow_up(tx, ids)


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
    hide_kinds: tuple[str, ...] = (),
) -> list[Event]:
    """Events matching every filter given; `kind` is a prefix (`flow-run.` is every run event).

    Paged by id: oldest first continues with `after_id` = the last id seen, newest first with
    `before_id` = the last id seen. Events of `hide_kinds` are left out.
    """
    query = _SELECT
    if hide_kinds:
        query = query.where(events.c.kind.not_in(hide_kinds))
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


async def failed_sign_ins(
    conn: Connection, actor: str, since: datetime
) -> tuple[int, datetime | None]:
    """Failed sign-ins as `actor` since `since` and since their latest sign-in: (how many, when
    the latest was). Both lookups ride the (actor, id) index."""
    signed_in = (
        sa.select(sa.func.max(events.c.id))
        .where(events.c.actor == actor, events.c.kind == EventKind.SESSION_SIGNED_IN.value)
        .scalar_subquery()
    )
    recent = (
        sa.select(events.c.occurred)
        .where(
            events.c.actor == actor,
            events.c.kind == EventKind.SESSION_SIGN_IN_FAILED.value,
            events.c.occurred >= since,
            events.c.id > sa.func.coalesce(signed_in, 0),
        )
        .order_by(events.c.id.desc())
        .limit(MAX_FAILURES_COUNTED)
    )
    times = list((await conn.execute(recent)).scalars())
    return len(times), (times[0] if times else None)


async def delete_older_than(tx: Tx, cutoff: datetime, batch: int = 5000) -> int:
    """Delete up to `batch` events that occurred before `cutoff`, oldest first; how many went.

    An event a pending automation delivery still points at is kept until that delivery is
    done. Deleting is idempotent: two replicas pruning at once delete each row once.
    """
    pending = sa.select(automation_deliveries.c.event_id).where(
        automation_deliveries.c.status == DELIVERY_PENDING,
        automation_deliveries.c.event_id.is_not(None),
    )
    doomed = (
        sa.select(events.c.id)
        .where(events.c.occurred < cutoff, events.c.id.not_in(pending))
        .order_by(events.c.id)
        .limit(batch)
    )
    ids = list((await tx.execute(doomed)).scalars())
    if not ids:
        return 0
    deleted = await tx.execute(events.delete().where(events.c.id.in_(ids)))
    # Another replica pruning at once may have taken some: count what this one deleted (0 when
    # it took them all: that replica carries on with the rest).
    return int(deleted.rowcount or 0)
