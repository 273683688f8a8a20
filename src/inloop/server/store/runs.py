"""All reads and writes of flows, flow runs and their state history.

The server enforces the state machine here: every transition is checked against ALLOWED,
written to `flow_runs` and appended to `flow_run_states` in the same transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from inloop.event_kinds import EventKind
from inloop.names import generate_run_name
from inloop.schemas import (
    FINAL_STATES,
    WAITING_STATES,
    FlowRun,
    PauseDetails,
    State,
    StateType,
)
from inloop.server.database.engine import Connection, Tx
from inloop.server.database.schema import deployments, flow_run_states, flow_runs, flows, utcnow
from inloop.server.errors import Conflict, NotFound
from inloop.server.store import events

__all__ = [
    "ALLOWED",
    "children_among",
    "count_by_state",
    "create_run",
    "ensure_flow",
    "heartbeat",
    "list_runs",
    "lock_for_inputs",
    "lock_run",
    "read_run",
    "require_run",
    "require_run_exists",
    "resolve_runs",
    "set_state",
    "state_history",
    "states_of",
    "to_flow_run",
    "write_state",
]

S = StateType
ALLOWED: dict[StateType, frozenset[StateType]] = {
    S.SCHEDULED: frozenset({S.PENDING, S.RUNNING, S.FAILED, S.CRASHED, S.CANCELLED}),
    S.PENDING: frozenset({S.RUNNING, S.FAILED, S.CRASHED, S.CANCELLED, S.SCHEDULED}),
    S.RUNNING: frozenset({S.COMPLETED, S.FAILED, S.CRASHED, S.CANCELLED, S.PAUSED, S.SUSPENDED}),
    S.PAUSED: frozenset({S.RUNNING, S.SUSPENDED, S.FAILED, S.CRASHED, S.CANCELLED}),
    S.SUSPENDED: frozenset({S.SCHEDULED, S.FAILED, S.CANCELLED}),
    S.COMPLETED: frozenset(),
    S.FAILED: frozenset(),
    S.CRASHED: frozenset(),
    S.CANCELLED: frozenset(),
}

RUN_SELECT = sa.select(
    flow_runs,
    flows.c.name.label("flow_name"),
    deployments.c.name.label("deployment_name"),
).select_from(
    flow_runs.join(flows, flows.c.id == flow_runs.c.flow_id).outerjoin(
        deployments, deployments.c.id == flow_runs.c.deployment_id
    )
)


def to_flow_run(row: Any) -> FlowRun:
    details = dict(row.state_details or {})
    state_type = StateType(row.state_type)
    pause = None
    if row.pause_key is not None and state_type in WAITING_STATES:
        pause = PauseDetails(
            key=row.pause_key,
            deadline=row.pause_deadline,
            reschedule=row.pause_reschedule,
            has_input=bool(details.get("has_input")),
            description=details.get("description"),
            validate_before_resume=bool(details.get("validate_before_resume")),
            assignees=list(row.pause_assignees or []),
            allow_self_approval=row.pause_allow_self_approval is not False,
            on_timeout="defaults" if row.pause_on_timeout == "defaults" else "fail",
        )
    return FlowRun(
        id=row.id,
        name=row.name,
        flow_id=row.flow_id,
        flow_name=row.flow_name,
        deployment_id=row.deployment_id,
        deployment_name=row.deployment_name,
        parent_flow_run_id=row.parent_flow_run_id,
        parameters=row.parameters or {},
        state=State(
            type=state_type,
            name=row.state_name,
            message=row.state_message,
            timestamp=row.state_timestamp,
            details=details,
        ),
        state_seq=row.state_seq,
        created=row.created,
        updated=row.updated,
        start_time=row.start_time,
        end_time=row.end_time,
        pause=pause,
        created_by=row.created_by,
    )


def _insert_ignoring_duplicates(tx: Tx, table: sa.Table, values: dict[str, Any]) -> Any:
    if tx.conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).values(**values).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).values(**values).on_conflict_do_nothing()


async def ensure_flow(tx: Tx, name: str) -> str:
    found = await tx.execute(sa.select(flows.c.id).where(flows.c.name == name))
    flow_id = found.scalar_one_or_none()
    if flow_id is not None:
        return str(flow_id)
    values = {"id": str(uuid.uuid4()), "name": name, "created": utcnow()}
    await tx.execute(_insert_ignoring_duplicates(tx, flows, values))
    found = await tx.execute(sa.select(flows.c.id).where(flows.c.name == name))
    return str(found.scalar_one())


async def create_run(
    tx: Tx,
    *,
    flow_name: str,
    parameters: dict[str, Any],
    state: StateType,
    deployment_id: str | None = None,
    parent_flow_run_id: str | None = None,
    name: str | None = None,
    actor: str | None = None,
    remote: str | None = None,
) -> FlowRun:
    if state not in (S.SCHEDULED, S.PENDING, S.RUNNING):
        raise Conflict(f"a new flow run starts SCHEDULED, PENDING or RUNNING, not {state.value}")
    flow_id = await ensure_flow(tx, flow_name)
    now = utcnow()
    run_id = str(uuid.uuid4())
    created_by = actor
    if parent_flow_run_id is not None:
        # A subflow is started by its parent's process; the person behind it is the parent's.
        parent = await tx.execute(
            sa.select(flow_runs.c.created_by).where(flow_runs.c.id == parent_flow_run_id)
        )
        created_by = parent.scalar_one_or_none() or actor
    await tx.execute(
        flow_runs.insert().values(
            id=run_id,
            name=name or generate_run_name(),
            flow_id=flow_id,
            deployment_id=deployment_id,
            parent_flow_run_id=parent_flow_run_id,
            parameters=parameters,
            state_type=S.SCHEDULED.value if deployment_id else S.PENDING.value,
            state_name="Scheduled" if deployment_id else "Pending",
            state_message=None,
            state_timestamp=now,
            state_details={},
            state_seq=0,
            created=now,
            updated=now,
            pause_reschedule=False,
            run_count=0,
            created_by=created_by,
        )
    )
    # The history starts with the run's first state; a run created RUNNING passes through
    # PENDING so every run's history has the same shape.
    first = S.SCHEDULED if deployment_id else S.PENDING
    await _append_history(tx, run_id, first, None, {}, now)
    await tx.execute(flow_runs.update().where(flow_runs.c.id == run_id).values(state_seq=1))
    row = await lock_run(tx, run_id)
    await events.record(
        tx,
        EventKind.FLOW_RUN_CREATED,
        actor=actor,
        flow_run_id=run_id,
        remote=remote,
        details={"flow": flow_name, "deployment": row.deployment_name, "state": first.value},
    )
    if state is not first:
        return await write_state(tx, row, state, actor=actor, remote=remote)
    tx.notify(f"run:{run_id}", "runs")
    if first is S.SCHEDULED:
        tx.notify("scheduled")
    return to_flow_run(row)


async def lock_run(tx: Tx, run_id: str) -> Any:
    """The run's row, locked against concurrent writers until the transaction ends."""
    query = RUN_SELECT.where(flow_runs.c.id == run_id)
    if tx.conn.dialect.name == "postgresql":
        query = query.with_for_update(of=flow_runs)
    row = (await tx.execute(query)).first()
    if row is None:
        raise NotFound(f"flow run '{run_id}' not found")
    return row


async def lock_for_inputs(tx: Tx, run_id: str) -> Any:
    """The run's name, state and pause key, its row locked until commit so its inputs commit
    in order.

    FOR NO KEY UPDATE: it queues writers of this run's inputs behind each other, yet lets the
    foreign-key checks of other tables' inserts (which take KEY SHARE) through.
    """
    query = sa.select(
        flow_runs.c.name, flow_runs.c.state_type, flow_runs.c.pause_key
    ).where(flow_runs.c.id == run_id)
    if tx.conn.dialect.name == "postgresql":
        query = query.with_for_update(key_share=True)
    row = (await tx.execute(query)).first()
    if row is None:
        raise NotFound(f"flow run '{run_id}' not found")
    return row


async def read_run(conn: Connection, run_id: str) -> FlowRun | None:
    row = (await conn.execute(RUN_SELECT.where(flow_runs.c.id == run_id))).first()
    return to_flow_run(row) if row is not None else None


async def states_of(conn: Connection, run_ids: list[str]) -> dict[str, StateType]:
    """The current state of each of these runs that exists, in one query."""
    rows = await conn.execute(
        sa.select(flow_runs.c.id, flow_runs.c.state_type).where(flow_runs.c.id.in_(run_ids))
    )
    return {row.id: StateType(row.state_type) for row in rows}


async def children_among(conn: Connection, parent_id: str, run_ids: list[str]) -> set[str]:
    """Which of these runs are children of `parent_id` (created as its subflows)."""
    rows = await conn.execute(
        sa.select(flow_runs.c.id)
        .where(flow_runs.c.id.in_(run_ids))
        .where(flow_runs.c.parent_flow_run_id == parent_id)
    )
    return {str(row.id) for row in rows}


async def count_by_state(conn: Connection, states: list[StateType]) -> dict[StateType, int]:
    """How many runs are in each of these states."""
    count = sa.func.count().label("runs")
    rows = await conn.execute(
        sa.select(flow_runs.c.state_type, count)
        .where(flow_runs.c.state_type.in_([s.value for s in states]))
        .group_by(flow_runs.c.state_type)
    )
    found = {StateType(row.state_type): int(row.runs) for row in rows}
    return {state: found.get(state, 0) for state in states}


async def require_run_exists(conn: Connection, run_id: str) -> None:
    """A cheap existence check, for endpoints that do not return the run."""
    found = await conn.execute(sa.select(flow_runs.c.id).where(flow_runs.c.id == run_id))
    if found.first() is None:
        raise NotFound(f"flow run '{run_id}' not found")


async def require_run(conn: Connection, run_id: str) -> FlowRun:
    run = await read_run(conn, run_id)
    if run is None:
        raise NotFound(f"flow run '{run_id}' not found")
    return run


async def list_runs(
    conn: Connection,
    *,
    states: list[StateType] | None = None,
    flow_name: str | None = None,
    deployment_id: str | None = None,
    parent_flow_run_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[FlowRun]:
    query = RUN_SELECT
    if states:
        query = query.where(flow_runs.c.state_type.in_([s.value for s in states]))
    if flow_name:
        query = query.where(flows.c.name == flow_name)
    if deployment_id:
        query = query.where(flow_runs.c.deployment_id == deployment_id)
    if parent_flow_run_id:
        query = query.where(flow_runs.c.parent_flow_run_id == parent_flow_run_id)
    query = query.order_by(flow_runs.c.created.desc(), flow_runs.c.id).limit(limit).offset(offset)
    return [to_flow_run(row) for row in await conn.execute(query)]


async def resolve_runs(conn: Connection, ref: str, limit: int = 10) -> list[FlowRun]:
    """The runs a person may mean by `ref`: its full id, its name, or the start of its id."""
    ref = ref.strip()
    matches = flow_runs.c.name == ref
    prefix = ref.lower()
    if prefix and all(c in "0123456789abcdef-" for c in prefix):
        # Ids are stored as lowercase text, so a prefix is a range scan on the primary key.
        matches = matches | flow_runs.c.id.startswith(prefix, autoescape=True)
    query = RUN_SELECT.where(matches).order_by(flow_runs.c.created.desc()).limit(limit)
    return [to_flow_run(row) for row in await conn.execute(query)]


async def state_history(conn: Connection, run_id: str) -> list[State]:
    await require_run(conn, run_id)
    rows = await conn.execute(
        sa.select(flow_run_states)
        .where(flow_run_states.c.flow_run_id == run_id)
        .order_by(flow_run_states.c.id)
    )
    return [
        State(
            type=StateType(r.type),
            name=r.name,
            message=r.message,
            timestamp=r.timestamp,
            details=r.details or {},
        )
        for r in rows
    ]


async def _append_history(
    tx: Tx,
    run_id: str,
    state: StateType,
    message: str | None,
    details: dict[str, Any],
    now: datetime,
) -> None:
    await tx.execute(
        flow_run_states.insert().values(
            flow_run_id=run_id,
            type=state.value,
            name=state.display_name,
            message=message,
            timestamp=now,
            details=details,
        )
    )


def transition_error(row: Any, new: StateType) -> Conflict:
    current = StateType(row.state_type)
    return Conflict(
        f"flow run '{row.name}' cannot move from {current.display_name} to "
        f"{new.display_name} (state: {current.display_name})"
    )


async def write_state(
    tx: Tx,
    row: Any,
    new: StateType,
    message: str | None = None,
    details: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    *,
    actor: str | None = None,
    remote: str | None = None,
    kind: EventKind | None = None,
    noted: dict[str, Any] | None = None,
) -> FlowRun:
    """Apply one checked transition to a locked row; `extra` sets more run columns, `noted`
    adds to the event's details.

    Every transition is also an event (`flow-run.<new state>` unless `kind` says otherwise,
    e.g. `flow-run.resumed`), recorded here so no path can change a state unseen.
    """
    current = StateType(row.state_type)
    if new not in ALLOWED[current]:
        raise transition_error(row, new)
    now = utcnow()
    values: dict[str, Any] = {
        "state_type": new.value,
        "state_name": new.display_name,
        "state_message": message,
        "state_timestamp": now,
        "state_details": details or {},
        "state_seq": row.state_seq + 1,
        "updated": now,
    }
    if new is S.RUNNING:
        if row.start_time is None:
            values["start_time"] = now
        values["heartbeat_at"] = now
        if current in (S.PENDING, S.SCHEDULED):
            values["run_count"] = row.run_count + 1
    if new in FINAL_STATES:
        values["end_time"] = now
        values["heartbeat_at"] = None
    if new in (S.SUSPENDED, S.SCHEDULED):
        # Nobody holds a process for this run any more.
        values["runner_id"] = None
        values["heartbeat_at"] = None
    values.update(extra or {})
    await tx.execute(flow_runs.update().where(flow_runs.c.id == row.id).values(**values))
    await _append_history(tx, row.id, new, message, details or {}, now)
    await events.record(
        tx,
        kind or EventKind.entered(new.value),
        actor=actor,
        flow_run_id=row.id,
        remote=remote,
        details={
            "from": current.value,
            "to": new.value,
            "message": message,
            "key": (details or {}).get("pause_key"),
            **(noted or {}),
        },
    )
    tx.notify(f"run:{row.id}", "runs")
    if new in WAITING_STATES or current in WAITING_STATES:
        tx.notify("inbox")
    if new is S.SCHEDULED:
        tx.notify("scheduled")
    updated = await read_run(tx, row.id)
    assert updated is not None
    return updated


async def set_state(
    tx: Tx,
    run_id: str,
    new: StateType,
    *,
    message: str | None = None,
    details: dict[str, Any] | None = None,
    expected_seq: int | None = None,
    actor: str | None = None,
    remote: str | None = None,
) -> FlowRun:
    row = await lock_run(tx, run_id)
    if expected_seq is not None and row.state_seq != expected_seq:
        raise Conflict(
            f"flow run '{row.name}' changed state meanwhile (now {row.state_name}); "
            "read it again and retry"
        )
    if new in WAITING_STATES:
        raise Conflict(f"use the pause endpoint to move flow run '{row.name}' to {new.value}")
    return await write_state(tx, row, new, message, details, actor=actor, remote=remote)


async def heartbeat(tx: Tx, run_ids: list[str], runner_id: str | None = None) -> int:
    values: dict[str, Any] = {"heartbeat_at": utcnow()}
    if runner_id is not None:
        values["runner_id"] = runner_id
    result = await tx.execute(
        flow_runs.update()
        .where(flow_runs.c.id.in_(run_ids))
        .where(flow_runs.c.state_type.in_([S.PENDING.value, S.RUNNING.value, S.PAUSED.value]))
        .values(**values)
    )
    return int(result.rowcount or 0)
