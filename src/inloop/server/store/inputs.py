"""All reads and writes of flow run inputs: keyed, typed-by-prefix, paged by sequence.

Readers page through a run's inputs with `seq > cursor`, so a run's inputs must become visible
in `seq` order: an input committed with a lower `seq` after a reader saw a higher one would be
skipped for good. `seq` is drawn at insert time, not at commit, so every write of a run's inputs
first locks the run's row (`runs.lock_for_inputs`) and holds it to commit. Writers of one run
then draw and commit their `seq` one after another, on every server replica sharing the
database. (SQLite needs no row lock: its writers already take turns, BEGIN IMMEDIATE.)
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from inloop.schemas import FINAL_STATES, FlowRunInput, StateType
from inloop.schemas import INPUT_KEY_PATTERN as KEY_PATTERN
from inloop.server.database.engine import Connection, Tx
from inloop.server.database.schema import flow_run_inputs, utcnow
from inloop.server.errors import Conflict, Invalid
from inloop.server.store import events, runs

__all__ = [
    "KEY_PATTERN",
    "check_key",
    "create_input",
    "filter_inputs",
    "list_inputs",
    "put_input",
    "read_input",
]

def check_key(key: str, loc: str = "key") -> None:
    if not KEY_PATTERN.fullmatch(key):
        raise Invalid(
            [
                {
                    "loc": ["body", loc],
                    "msg": (
                        f"invalid input key {key!r}: keys may contain only lowercase letters, "
                        "digits and '-' (pattern ^[a-z0-9-]+$)"
                    ),
                    "type": "value_error.key",
                }
            ]
        )


def _to_input(row: Any) -> FlowRunInput:
    return FlowRunInput(
        flow_run_id=row.flow_run_id,
        key=row.key,
        value=row.value,
        sender=row.sender,
        created=row.created,
        seq=row.seq,
    )


async def create_input(
    tx: Tx,
    run_id: str,
    key: str,
    value: Any,
    sender: str | None,
    *,
    actor: str | None = None,
    remote: str | None = None,
) -> tuple[FlowRunInput, bool]:
    """Store a new input; the flag says whether this call stored it (False: it was already there).

    A key is chosen by the sender before its first attempt, so a retry after a lost answer
    sends the same key and value again: that is the same input, answered with the stored row.
    The same key with a different value or sender is a conflict (409). Unknown runs are 404;
    runs in a final state refuse new inputs (409), since nothing would ever read them.
    """
    check_key(key)
    run = await runs.lock_for_inputs(tx, run_id)
    existing = await read_input(tx, run_id, key)
    if existing is not None:
        if existing.value == value and existing.sender == sender:
            return existing, False
        raise Conflict(
            f"flow run '{run.name}' already has an input with key {key!r} with a different "
            "value or sender; send a new value under a new key"
        )
    state = StateType(run.state_type)
    if state in FINAL_STATES:
        raise Conflict(
            f"flow run '{run.name}' is {state.display_name}; it accepts no more inputs, "
            "because nothing would ever read them"
        )
    try:
        result = await tx.execute(
            flow_run_inputs.insert()
            .values(flow_run_id=run_id, key=key, value=value, sender=sender, created=utcnow())
            .returning(*flow_run_inputs.c)
        )
    except IntegrityError as exc:  # a writer that does not lock the run raced this one
        raise Conflict(f"flow run '{run.name}' already has an input with key {key!r}") from exc
    # The audit keeps what arrived and from whom, never the value itself.
    size = len(json.dumps(value, separators=(",", ":"), default=str).encode())
    await events.record(
        tx,
        "flow-run.input-received",
        actor=actor,
        flow_run_id=run_id,
        remote=remote,
        details={"key": key, "sender": sender, "bytes": size},
    )
    tx.notify(f"inputs:{run_id}")
    return _to_input(result.one()), True


async def put_input(tx: Tx, run_id: str, key: str, value: Any, sender: str | None) -> None:
    """Insert or replace (used for a pause's schema and description, rewritten on re-run)."""
    check_key(key)
    await runs.lock_for_inputs(tx, run_id)
    await tx.execute(
        flow_run_inputs.delete()
        .where(flow_run_inputs.c.flow_run_id == run_id)
        .where(flow_run_inputs.c.key == key)
    )
    await tx.execute(
        flow_run_inputs.insert().values(
            flow_run_id=run_id, key=key, value=value, sender=sender, created=utcnow()
        )
    )
    tx.notify(f"inputs:{run_id}")


async def read_input(conn: Connection, run_id: str, key: str) -> FlowRunInput | None:
    row = (
        await conn.execute(
            sa.select(flow_run_inputs)
            .where(flow_run_inputs.c.flow_run_id == run_id)
            .where(flow_run_inputs.c.key == key)
        )
    ).first()
    return _to_input(row) if row is not None else None


async def filter_inputs(
    conn: Connection,
    run_id: str,
    *,
    prefix: str | None,
    after_seq: int,
    exclude_keys: list[str],
    limit: int,
) -> list[FlowRunInput]:
    query = (
        sa.select(flow_run_inputs)
        .where(flow_run_inputs.c.flow_run_id == run_id)
        .where(flow_run_inputs.c.seq > after_seq)
    )
    if prefix:
        check_key(prefix, "prefix")
        # Keys hold only [a-z0-9-], so the prefix has no LIKE wildcards to escape.
        query = query.where(flow_run_inputs.c.key.like(f"{prefix}-%"))
    if exclude_keys:
        query = query.where(flow_run_inputs.c.key.not_in(exclude_keys))
    query = query.order_by(flow_run_inputs.c.seq).limit(limit)
    return [_to_input(row) for row in await conn.execute(query)]


async def list_inputs(conn: Connection, run_id: str, limit: int = 500) -> list[FlowRunInput]:
    query = (
        sa.select(flow_run_inputs)
        .where(flow_run_inputs.c.flow_run_id == run_id)
        .order_by(flow_run_inputs.c.seq)
        .limit(limit)
    )
    return [_to_input(row) for row in await conn.execute(query)]
