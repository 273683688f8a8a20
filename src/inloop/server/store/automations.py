"""All reads and writes of automations, and the reads of one automation's delivery log.

An automation is keyed by its name: applying a spec with a known name replaces that row in
place (same id, same `created`), so deliveries already planned for it stay attached. The rows
of automation_deliveries and automation_attempts are written by the delivery side
(store/deliveries.py); here they are only read, newest first, for the log an admin looks at.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

import sqlalchemy as sa

from inloop.automations import AutomationSpec, spec_json
from inloop.event_kinds import EventKind
from inloop.server.database.engine import Connection, Tx
from inloop.server.database.schema import (
    DELIVERY_DELIVERED,
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    DELIVERY_SKIPPED,
    automation_attempts,
    automation_deliveries,
    automations,
    flow_runs,
    utcnow,
)
from inloop.server.errors import Invalid, NotFound
from inloop.server.store import events

__all__ = [
    "DELIVERY_STATUSES",
    "MAX_ATTEMPTS_SHOWN",
    "MAX_DELIVERY_PAGE",
    "Outcome",
    "apply_specs",
    "delete_automation",
    "list_automations",
    "list_deliveries",
    "require_automation",
    "set_enabled",
]

Outcome = Literal["created", "updated", "unchanged"]
_CHANGED = {"created": EventKind.AUTOMATION_CREATED, "updated": EventKind.AUTOMATION_UPDATED}
DELIVERY_STATUSES = (DELIVERY_PENDING, DELIVERY_DELIVERED, DELIVERY_FAILED, DELIVERY_SKIPPED)
MAX_DELIVERY_PAGE = 200
# A delivery retried many times shows its latest tries; the count says how many there were.
MAX_ATTEMPTS_SHOWN = 20


def _automation(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "enabled": bool(row.enabled),
        "spec": row.spec,
        "created": row.created,
        "updated": row.updated,
    }


async def _find(conn: Connection, name: str) -> Any:
    return (await conn.execute(sa.select(automations).where(automations.c.name == name))).first()


async def require_automation(conn: Connection, name: str) -> dict[str, Any]:
    row = await _find(conn, name)
    if row is None:
        raise NotFound(
            f"no automation named {name!r}; list them with `inloop automation ls`, or create "
            "it with `inloop automation apply -f FILE.yaml`"
        )
    return _automation(row)


async def list_automations(conn: Connection) -> list[dict[str, Any]]:
    rows = (await conn.execute(sa.select(automations).order_by(automations.c.name))).all()
    return [_automation(row) for row in rows]


async def apply_specs(
    tx: Tx, specs: list[AutomationSpec], actor: str
) -> list[tuple[Outcome, dict[str, Any]]]:
    """Create or replace each spec by name, in `tx`: the caller's transaction makes it all or
    nothing. A spec equal to the stored one is left alone (no write, no event). Two applies
    creating one name at once: the later commit fails on the unique name (the API says 409)."""
    results: list[tuple[Outcome, dict[str, Any]]] = []
    now = utcnow()
    for spec in specs:
        stored = spec_json(spec)
        row = await _find(tx, spec.name)
        outcome: Outcome
        if row is None:
            automation_id = str(uuid.uuid4())
            await tx.execute(
                automations.insert().values(
                    id=automation_id, name=spec.name, enabled=spec.enabled, spec=stored,
                    created=now, updated=now,
                )
            )
            outcome = "created"
        elif row.spec == stored and bool(row.enabled) == spec.enabled:
            outcome = "unchanged"
        else:
            await tx.execute(
                automations.update()
                .where(automations.c.id == row.id)
                .values(enabled=spec.enabled, spec=stored, updated=now)
            )
            outcome = "updated"
        automation = await require_automation(tx, spec.name)
        if outcome != "unchanged":
            await _record(tx, _CHANGED[outcome], actor, automation)
        results.append((outcome, automation))
    return results


async def set_enabled(tx: Tx, name: str, enabled: bool, actor: str) -> dict[str, Any]:
    """Switch an automation on or off; the stored spec's `enabled` follows, so a later apply
    of the same file (saying `enabled: true`) reports it as updated and switches it back on."""
    automation = await require_automation(tx, name)
    if automation["enabled"] == enabled:
        return automation
    spec = {**automation["spec"], "enabled": enabled}
    await tx.execute(
        automations.update()
        .where(automations.c.id == automation["id"])
        .values(enabled=enabled, spec=spec, updated=utcnow())
    )
    automation = await require_automation(tx, name)
    kind = EventKind.AUTOMATION_ENABLED if enabled else EventKind.AUTOMATION_DISABLED
    await _record(tx, kind, actor, automation)
    return automation


async def delete_automation(tx: Tx, name: str, actor: str) -> dict[str, Any]:
    """Delete an automation; its deliveries and their attempts go with it (ON DELETE CASCADE),
    so a pending reminder is never sent for an automation that no longer exists."""
    automation = await require_automation(tx, name)
    deliveries = (
        await tx.execute(
            sa.select(sa.func.count())
            .select_from(automation_deliveries)
            .where(automation_deliveries.c.automation_id == automation["id"])
        )
    ).scalar_one()
    await tx.execute(automations.delete().where(automations.c.id == automation["id"]))
    await _record(tx, EventKind.AUTOMATION_DELETED, actor, automation, deliveries=deliveries)
    return automation


async def _record(
    tx: Tx, kind: EventKind, actor: str, automation: dict[str, Any], **extra: Any
) -> None:
    details = {"automation": automation["name"], "automation_id": automation["id"], **extra}
    await events.record(tx, kind, actor=actor, details=details)


# --- the delivery log ----------------------------------------------------------------------------


def _action_type(spec: dict[str, Any], stage: int, index: int) -> str | None:
    """The type of the action a delivery carries out (escalation actions at stage -1)."""
    actions = spec.get("escalate" if stage < 0 else "actions") or []
    if 0 <= index < len(actions) and isinstance(actions[index], dict):
        kind = actions[index].get("type")
        return kind if isinstance(kind, str) else None
    return None  # the spec was replaced since: the delivery outlives the action's position


async def list_deliveries(
    conn: Connection,
    name: str,
    *,
    status: str | None = None,
    before: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """One automation's deliveries, newest first, each with its latest attempts.

    Paged by `before` = the id of the last delivery seen (rows are ordered by creation time,
    then id, so a page boundary never repeats or skips a row).
    """
    automation = await require_automation(conn, name)
    d = automation_deliveries
    query = (
        sa.select(d, flow_runs.c.name.label("flow_run_name"))
        .select_from(d.outerjoin(flow_runs, flow_runs.c.id == d.c.flow_run_id))
        .where(d.c.automation_id == automation["id"])
    )
    if status is not None:
        query = query.where(d.c.status == status)
    if before is not None:
        cursor = (
            await conn.execute(
                sa.select(d.c.created, d.c.id).where(
                    d.c.id == before, d.c.automation_id == automation["id"]
                )
            )
        ).first()
        if cursor is None:
            raise Invalid([{
                "loc": ["query", "before"],
                "msg": f"no delivery {before!r} of automation {name!r}: pass the id of the "
                "last delivery of the previous page",
                "type": "value_error",
            }])
        query = query.where(
            sa.or_(
                d.c.created < cursor.created,
                sa.and_(d.c.created == cursor.created, d.c.id < cursor.id),
            )
        )
    query = query.order_by(d.c.created.desc(), d.c.id.desc()).limit(
        min(limit, MAX_DELIVERY_PAGE)
    )
    rows = (await conn.execute(query)).all()
    tries = await _attempts(conn, [row.id for row in rows])
    return [
        {
            "id": row.id,
            "event_id": row.event_id,
            "event_kind": row.event_kind,
            "flow_run_id": row.flow_run_id,
            "flow_run_name": row.flow_run_name,
            "stage": row.stage,
            "action_index": row.action_index,
            "target_index": row.target_index,
            "action": _action_type(automation["spec"], row.stage, row.action_index),
            "status": row.status,
            "due": row.due,
            "attempt_count": row.attempts,
            "last_error": row.last_error,
            "created": row.created,
            "finished": row.finished,
            "attempts": tries.get(row.id, []),
        }
        for row in rows
    ]


async def _attempts(conn: Connection, delivery_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    if not delivery_ids:
        return {}
    a = automation_attempts
    query = (
        sa.select(a).where(a.c.delivery_id.in_(delivery_ids)).order_by(a.c.id.desc())
    )
    found: dict[str, list[dict[str, Any]]] = {}
    for row in await conn.execute(query):
        shown = found.setdefault(row.delivery_id, [])
        if len(shown) < MAX_ATTEMPTS_SHOWN:
            shown.append({
                "started": row.started,
                "duration_ms": row.duration_ms,
                "ok": bool(row.ok),
                "error": row.error,
            })
    return found
