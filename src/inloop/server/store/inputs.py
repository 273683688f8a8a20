"""All reads and writes of flow run inputs: keyed, typed-by-prefix, paged by sequence.

Readers page through a run's inputs with `seq > cursor`, so a run's inputs must become visible
in `seq` order: an input committed with a lower `seq` after a reader saw a higher one would be
skipped for good. `seq` is drawn at insert time, not at commit, so every write of a run's inputs
first locks the run's row (`runs.lock_for_inputs`) and holds it to commit. Writers of one run
then draw and commit their `seq` one after another, on every server replica sharing the
database. (SQLite needs no row lock: its writers already take turns, BEGIN IMMEDIATE.)

A pause's keys are not ordinary inputs. `<key>-response` is its answer: only the answer path
(`store/pauses`: a resume, a link's use, an automation's or the clock's defaults) writes it,
with `answering=True`, after the pause's rules accepted the answerer; any other write of such a
key is refused here, so every stored `-response` row is an answer a pause's rules let through,
and a flow executed again after a suspension may take it as given. `<key>-schema` and
`<key>-description` are its question: the pause writes them when it starts (`put_input`), and
nothing may change them while it waits.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from inloop.event_kinds import EventKind
from inloop.schemas import FINAL_STATES, WAITING_STATES, FlowRunInput, StateType
from inloop.schemas import INPUT_KEY_PATTERN as KEY_PATTERN
from inloop.server.access import AnswerRefused
from inloop.server.database.engine import Connection, Tx
from inloop.server.database.schema import flow_run_inputs, utcnow
from inloop.server.errors import Conflict, Invalid
from inloop.server.store import events, runs

__all__ = [
    "ANSWER_SUFFIX",
    "KEY_PATTERN",
    "QUESTION_SUFFIXES",
    "check_key",
    "create_input",
    "filter_inputs",
    "list_inputs",
    "put_input",
    "read_input",
]

ANSWER_SUFFIX = "-response"
QUESTION_SUFFIXES = ("-schema", "-description")


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
    answering: bool = False,
) -> tuple[FlowRunInput, bool]:
    """Store a new input; the flag says whether this call stored it (False: it was already there).

    A key is chosen by the sender before its first attempt, so a retry after a lost answer
    sends the same key and value again: that is the same input, answered with the stored row.
    The same key with a different value or sender is a conflict (409). Unknown runs are 404;
    runs in a final state refuse new inputs (409), since nothing would ever read them.

    A pause's answer key is refused (AnswerRefused, 403) unless `answering` (the answer path,
    store/pauses, only); its question keys are refused (409) while it waits.
    """
    check_key(key)
    run = await runs.lock_for_inputs(tx, run_id)
    if not answering:
        _check_not_pause_key(run, run_id, key)
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
        EventKind.FLOW_RUN_INPUT_RECEIVED,
        actor=actor,
        flow_run_id=run_id,
        remote=remote,
        details={"key": key, "sender": sender, "bytes": size},
    )
    tx.notify(f"inputs:{run_id}")
    return _to_input(result.one()), True


def _check_not_pause_key(run: Any, run_id: str, key: str) -> None:
    """Refuse a plain send to a pause's answer key (any pause: the current one, a past one, or
    one the flow has not reached yet), or to the question keys of the pause it waits on."""
    if key.endswith(ANSWER_SUFFIX):
        pause_key = key.removesuffix(ANSWER_SUFFIX)
        raise AnswerRefused(
            f"input key {key!r} is the answer to pause {pause_key!r}, and a pause is answered "
            "only while it waits and only where its rules (assignees, self-approval, "
            f"validation) apply: `inloop flow-run resume {run_id}`, "
            f"POST /api/flow_runs/{run_id}/resume, or a signed resume link "
            f"(POST /api/flow_runs/{run_id}/links); send other inputs under keys that do "
            f"not end in {ANSWER_SUFFIX!r}",
            "answer-path",
        )
    waiting = StateType(run.state_type) in WAITING_STATES and run.pause_key is not None
    if waiting and key in {f"{run.pause_key}{suffix}" for suffix in QUESTION_SUFFIXES}:
        raise Conflict(
            f"input key {key!r} is part of the question of pause {run.pause_key!r}, which "
            f"flow run '{run.name}' waits on: the question stays as the flow asked it while it "
            "waits; send your message under another key"
        )


async def put_input(tx: Tx, run_id: str, key: str, value: Any, sender: str | None) -> None:
    """Insert or replace; None removes the key (a pause's schema and description, written
    as the pause starts, so nothing stored under them before can pose as its question)."""
    check_key(key)
    await runs.lock_for_inputs(tx, run_id)
    await tx.execute(
        flow_run_inputs.delete()
        .where(flow_run_inputs.c.flow_run_id == run_id)
        .where(flow_run_inputs.c.key == key)
    )
    if value is not None:
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
