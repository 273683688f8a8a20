"""All reads and writes of automation deliveries and their attempts.

A delivery is one thing an automation must do for one event: one action (one notify target), at
one stage: 0 first, 1..n the reminders of `trigger.repeat`, ESCALATION once they are spent.

- `plan()` runs inside the transaction that writes the events (store/events.py), so an event
  and its deliveries commit together or not at all.
- `claim_due()` hands due rows to a dispatcher under a lease (`claimed_until`); on PostgreSQL
  with FOR UPDATE SKIP LOCKED, so replicas share the work without taking the same row. A
  dispatcher that dies mid-delivery leaves a lease that expires, and the row is claimed again:
  delivery is at-least-once, and the row id (stable across retries) lets receivers deduplicate.
- Each outcome is written with the attempt it came from; a finished stage schedules the next
  reminder (or the escalation) in the same transaction.
"""

from __future__ import annotations

import fnmatch
import logging
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError

from inloop.automations import EVENT_KINDS, Action, AutomationSpec, NotifyAction
from inloop.server.database.engine import Connection, EventsWritten, Tx
from inloop.server.database.schema import (
    DELIVERY_DELIVERED,
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    DELIVERY_SKIPPED,
    automation_attempts,
    automation_deliveries,
    automations,
    deployments,
    events,
    flow_run_states,
    flow_runs,
    flows,
    utcnow,
)

__all__ = [
    "DELIVERED",
    "ESCALATION",
    "FAILED",
    "PENDING",
    "SKIPPED",
    "TOPIC",
    "Delivery",
    "claim_due",
    "mark_delivered",
    "mark_failed",
    "mark_skipped",
    "next_wake",
    "on_events",
    "plan",
    "release",
    "retry_later",
    "run_still_in",
    "write_planned",
]

TOPIC = "deliveries"
PENDING, DELIVERED, FAILED, SKIPPED = (
    DELIVERY_PENDING, DELIVERY_DELIVERED, DELIVERY_FAILED, DELIVERY_SKIPPED
)
ESCALATION = -1
MAX_ERROR = 2000
INTERRUPTED = (
    "this attempt never finished: the server sending it stopped (or lost the database) "
    "before recording an outcome, and its lease expired"
)
log = logging.getLogger("inloop.server.automations")

D = automation_deliveries


@dataclass(frozen=True)
class Delivery:
    """A claimed delivery with what acting on it needs: the automation and the event."""

    id: str
    automation_id: str
    automation_name: str
    enabled: bool
    spec: AutomationSpec | None  # None: the stored spec no longer validates
    spec_error: str | None
    event_id: int | None
    event_kind: str
    event_occurred: datetime | None
    event_actor: str | None
    flow_run_id: str | None
    state_id: int | None
    stage: int
    action_index: int
    target_index: int
    attempts: int
    due: datetime

    @property
    def action(self) -> Action | None:
        """The action this row stands for, or None when the automation changed under it."""
        if self.spec is None:
            return None
        actions = self.spec.escalate if self.stage == ESCALATION else self.spec.actions
        if not 0 <= self.action_index < len(actions):
            return None
        return actions[self.action_index]


def _cut(text: str) -> str:
    return text if len(text) <= MAX_ERROR else text[:MAX_ERROR] + "…"


def _parse_spec(stored: Any) -> tuple[AutomationSpec | None, str | None]:
    try:
        return AutomationSpec.model_validate(stored), None
    except ValidationError as exc:
        return None, f"the stored spec no longer validates ({exc.error_count()} errors): {exc}"


def _targets(action: Action) -> int:
    return len(action.urls) if isinstance(action, NotifyAction) else 1


def _row(
    automation_id: str,
    event_id: int | None,
    kind: str,
    run_id: str | None,
    state_id: int | None,
    stage: int,
    action_index: int,
    target_index: int,
    due: datetime,
    now: datetime,
) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "automation_id": automation_id,
        "event_id": event_id,
        "event_kind": kind,
        "flow_run_id": run_id,
        "state_id": state_id,
        "stage": stage,
        "action_index": action_index,
        "target_index": target_index,
        "status": PENDING,
        "due": due,
        "attempts": 0,
        "claimed_until": None,
        "last_error": None,
        "created": now,
        "finished": None,
    }


# --- planning, in the event's transaction ------------------------------------------------------


async def _enabled_automations(tx: Tx) -> list[tuple[str, AutomationSpec]]:
    query = sa.select(automations.c.id, automations.c.name, automations.c.spec).where(
        automations.c.enabled.is_(True)
    )
    if tx.dialect.name == "postgresql":
        # Held to commit: the deliveries written below reference these rows.
        query = query.with_for_update(key_share=True, read=True)
    found = []
    for row in await tx.execute(query):
        spec, error = _parse_spec(row.spec)
        if spec is None:
            log.warning("automation %r is ignored: %s", row.name, error)
            continue
        found.append((row.id, spec))
    return found


async def _run_facts(tx: Tx, run_id: str) -> Any:
    """The run's flow and deployment names and its current state's history id."""
    latest = (
        sa.select(sa.func.max(flow_run_states.c.id))
        .where(flow_run_states.c.flow_run_id == run_id)
        .scalar_subquery()
    )
    query = (
        sa.select(
            flows.c.name.label("flow_name"),
            deployments.c.name.label("deployment_name"),
            latest.label("state_id"),
        )
        .select_from(
            flow_runs.join(flows, flows.c.id == flow_runs.c.flow_id).outerjoin(
                deployments, deployments.c.id == flow_runs.c.deployment_id
            )
        )
        .where(flow_runs.c.id == run_id)
    )
    return (await tx.execute(query)).first()


def _matches(spec: AutomationSpec, kind: str, facts: Any) -> bool:
    trigger = spec.trigger
    if kind not in trigger.kinds:
        return False
    if trigger.flow is not None and not fnmatch.fnmatchcase(facts.flow_name, trigger.flow):
        return False
    if trigger.deployment is not None:
        name = facts.deployment_name
        if name is None or not fnmatch.fnmatchcase(name, trigger.deployment):
            return False
    return True


async def plan(tx: Tx, pending: Sequence[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """The deliveries the enabled automations owe these events (about to be written).

    Returns (index of the event in `pending`, row without its event id) pairs, for
    `write_planned()` once the events have their ids.
    """
    relevant = [
        (index, event)
        for index, event in enumerate(pending)
        if event["kind"] in EVENT_KINDS and event.get("flow_run_id")
    ]
    if not relevant:
        return []
    enabled = await _enabled_automations(tx)
    if not enabled:
        return []
    now = utcnow()
    planned: list[tuple[int, dict[str, Any]]] = []
    facts_by_run: dict[str, Any] = {}
    for index, event in relevant:
        kind, run_id = event["kind"], event["flow_run_id"]
        wanted = [(aid, spec) for aid, spec in enabled if kind in spec.trigger.kinds]
        if not wanted:
            continue
        if run_id not in facts_by_run:
            facts_by_run[run_id] = await _run_facts(tx, run_id)
        facts = facts_by_run[run_id]
        if facts is None:
            continue
        for automation_id, spec in wanted:
            if not _matches(spec, kind, facts):
                continue
            due = now + timedelta(seconds=spec.trigger.after or 0)
            for action_index, action in enumerate(spec.actions):
                for target in range(_targets(action)):
                    row = _row(automation_id, None, kind, run_id, facts.state_id, 0,
                               action_index, target, due, now)
                    planned.append((index, row))
    return planned


async def write_planned(
    tx: Tx, planned: Sequence[tuple[int, dict[str, Any]]], event_ids: Sequence[int]
) -> None:
    rows = [{**row, "event_id": event_ids[index]} for index, row in planned]
    if rows:
        await tx.execute(D.insert(), rows)
        tx.notify(TOPIC)


async def on_events(tx: Tx, pending: Sequence[dict[str, Any]]) -> EventsWritten | None:
    """The hook the server registers on its database (store/events.on_recorded): plan what
    these events owe, and write it once they have their ids, in their transaction."""
    planned = await plan(tx, pending)
    if not planned:
        return None

    async def write(tx: Tx, event_ids: Sequence[int]) -> None:
        await write_planned(tx, planned, event_ids)

    return write


# --- the dispatcher's side ---------------------------------------------------------------------


_SELECT = sa.select(
    D,
    automations.c.name.label("automation_name"),
    automations.c.enabled.label("automation_enabled"),
    automations.c.spec.label("automation_spec"),
    events.c.occurred.label("event_occurred"),
    events.c.actor.label("event_actor"),
).select_from(
    D.join(automations, automations.c.id == D.c.automation_id).outerjoin(
        events, events.c.id == D.c.event_id
    )
)


def _to_delivery(row: Any) -> Delivery:
    spec, error = _parse_spec(row.automation_spec)
    return Delivery(
        id=row.id,
        automation_id=row.automation_id,
        automation_name=row.automation_name,
        enabled=bool(row.automation_enabled),
        spec=spec,
        spec_error=error,
        event_id=row.event_id,
        event_kind=row.event_kind,
        event_occurred=row.event_occurred,
        event_actor=row.event_actor,
        flow_run_id=row.flow_run_id,
        state_id=row.state_id,
        stage=row.stage,
        action_index=row.action_index,
        target_index=row.target_index,
        attempts=row.attempts,
        due=row.due,
    )


async def claim_due(
    tx: Tx, limit: int, lease_seconds: float, busy: Collection[str] = ()
) -> list[Delivery]:
    """Take up to `limit` due pending deliveries, leased for `lease_seconds`.

    `busy`: ids this process is still working on (never claimed twice by the same dispatcher,
    even when an action outlives its lease).
    """
    now = utcnow()
    query = (
        sa.select(D.c.id, D.c.claimed_until)
        .where(D.c.status == PENDING)
        .where(D.c.due <= now)
        .where(sa.or_(D.c.claimed_until.is_(None), D.c.claimed_until < now))
        .order_by(D.c.due)
        .limit(limit)
    )
    if busy:
        query = query.where(D.c.id.not_in(list(busy)))
    if tx.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    found = (await tx.execute(query)).all()
    if not found:
        return []
    ids = [row.id for row in found]
    await tx.execute(
        D.update()
        .where(D.c.id.in_(ids))
        .values(claimed_until=now + timedelta(seconds=lease_seconds), attempts=D.c.attempts + 1)
    )
    # A lease that ran out means a dispatcher died mid-attempt: say so in the attempt log.
    interrupted = [row.id for row in found if row.claimed_until is not None]
    if interrupted:
        await tx.execute(
            automation_attempts.insert(),
            [
                {"delivery_id": did, "started": now, "duration_ms": 0, "ok": False,
                 "error": INTERRUPTED}
                for did in interrupted
            ],
        )
    rows = await tx.execute(_SELECT.where(D.c.id.in_(ids)).order_by(D.c.due))
    return [_to_delivery(row) for row in rows]


async def _record_attempt(
    tx: Tx, delivery_id: str, started: datetime, duration_ms: int, error: str | None
) -> None:
    await tx.execute(
        automation_attempts.insert().values(
            delivery_id=delivery_id,
            started=started,
            duration_ms=duration_ms,
            ok=error is None,
            error=_cut(error) if error is not None else None,
        )
    )


async def _close(tx: Tx, delivery: Delivery, status: str, error: str | None) -> bool:
    """Set a final status; False if the row was no longer pending (another claim finished it)."""
    result = await tx.execute(
        D.update()
        .where(D.c.id == delivery.id)
        .where(D.c.status == PENDING)
        .values(
            status=status,
            claimed_until=None,
            last_error=_cut(error) if error is not None else None,
            finished=utcnow(),
        )
    )
    return bool(result.rowcount)


async def _schedule_followups(tx: Tx, delivery: Delivery) -> None:
    """After a stage: the next reminder for this action, or (once) the escalation."""
    spec = delivery.spec
    if spec is None or spec.trigger.after is None or delivery.stage == ESCALATION:
        return
    repeat = spec.trigger.repeat
    last_stage = repeat.times if repeat is not None else 0
    now = utcnow()
    rows = []
    if repeat is not None and delivery.stage < last_stage:
        rows.append(
            _row(delivery.automation_id, delivery.event_id, delivery.event_kind,
                 delivery.flow_run_id, delivery.state_id, delivery.stage + 1,
                 delivery.action_index, delivery.target_index,
                 delivery.due + timedelta(seconds=repeat.every), now)
        )
    elif (delivery.action_index, delivery.target_index) == (0, 0):
        # One chain per event escalates (the first action's first target), so escalation
        # happens once however many actions and targets the stages had.
        for index, action in enumerate(spec.escalate):
            for target in range(_targets(action)):
                rows.append(
                    _row(delivery.automation_id, delivery.event_id, delivery.event_kind,
                         delivery.flow_run_id, delivery.state_id, ESCALATION, index, target,
                         now, now)
                )
    if rows:
        await tx.execute(D.insert(), rows)
        tx.notify(TOPIC)


async def mark_delivered(
    tx: Tx, delivery: Delivery, started: datetime, duration_ms: int
) -> None:
    await _record_attempt(tx, delivery.id, started, duration_ms, None)
    if await _close(tx, delivery, DELIVERED, None):
        await _schedule_followups(tx, delivery)


async def mark_failed(
    tx: Tx, delivery: Delivery, error: str, started: datetime | None, duration_ms: int = 0
) -> None:
    """Give up on the delivery (retries spent, or a failure no retry can fix)."""
    if started is not None:
        await _record_attempt(tx, delivery.id, started, duration_ms, error)
    if await _close(tx, delivery, FAILED, error):
        await _schedule_followups(tx, delivery)


async def retry_later(
    tx: Tx, delivery: Delivery, error: str, started: datetime, duration_ms: int, due: datetime
) -> None:
    await _record_attempt(tx, delivery.id, started, duration_ms, error)
    await tx.execute(
        D.update()
        .where(D.c.id == delivery.id)
        .where(D.c.status == PENDING)
        .values(due=due, claimed_until=None, last_error=_cut(error))
    )
    tx.notify(TOPIC)


async def release(tx: Tx, ids: Collection[str]) -> None:
    """Give claimed deliveries back (a stopping server): claimable again at once."""
    await tx.execute(
        D.update()
        .where(D.c.id.in_(list(ids)))
        .where(D.c.status == PENDING)
        .values(claimed_until=None)
    )
    tx.notify(TOPIC)


async def mark_skipped(tx: Tx, delivery: Delivery, reason: str) -> None:
    """Not sent, and no reminder after it: the condition it waited for no longer holds."""
    await _close(tx, delivery, SKIPPED, reason)


async def run_still_in(
    conn: Connection, run_id: str, state_id: int | None, as_of: datetime
) -> bool:
    """Was the run still in the state (history row) the event reported, at `as_of`?

    Judged at the time the delivery fell due, not when a busy dispatcher got to it: the actions
    of one stage run side by side, and one of them (an escalation's cancel-run) must not make
    its siblings look late.
    """
    if state_id is None:
        return False
    known = sa.select(flow_run_states.c.id).where(
        flow_run_states.c.id == state_id, flow_run_states.c.flow_run_id == run_id
    )
    if (await conn.execute(known)).first() is None:
        return False
    moved = sa.select(flow_run_states.c.id).where(
        flow_run_states.c.flow_run_id == run_id,
        flow_run_states.c.id > state_id,
        flow_run_states.c.timestamp <= as_of,
    )
    return (await conn.execute(moved.limit(1))).first() is None


async def next_wake(conn: Connection) -> datetime | None:
    """When the next pending delivery becomes claimable (its due time or lease end)."""
    query = sa.select(
        sa.func.min(sa.case((D.c.claimed_until.is_(None), D.c.due))),
        sa.func.min(D.c.claimed_until),
    ).where(D.c.status == PENDING)
    row = (await conn.execute(query)).one()
    times: list[datetime] = [t for t in row if t is not None]
    return min(times) if times else None
