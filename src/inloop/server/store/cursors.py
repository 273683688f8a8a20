"""All reads and writes of receive cursors: one row per (flow run, cursor name).

A named `receive_input(..., cursor=...)` stores the `seq` of the last input its flow has
finished with, so a run executed again after a suspension (or a crash) reads on from there.
A cursor only moves forward: a late write from an older execution cannot wind it back.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from inloop.server.database.engine import Connection, Tx
from inloop.server.database.schema import receive_cursors, utcnow
from inloop.server.errors import Invalid
from inloop.server.store import runs

__all__ = ["CURSOR_NAME_PATTERN", "advance_cursor", "check_name", "read_cursor"]

CURSOR_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")


def check_name(name: str) -> None:
    if not CURSOR_NAME_PATTERN.fullmatch(name):
        raise Invalid(
            [{"loc": ["path", "name"],
              "msg": f"invalid cursor name {name!r}: use 1 to 100 lowercase letters, digits and "
                     "'-', starting with a letter or digit",
              "type": "value_error.cursor_name"}]
        )


async def read_cursor(conn: Connection, run_id: str, name: str) -> int:
    """The seq the cursor has read up to; 0 (before every input) when it was never moved."""
    found = await conn.execute(
        sa.select(receive_cursors.c.after_seq)
        .where(receive_cursors.c.flow_run_id == run_id)
        .where(receive_cursors.c.name == name)
    )
    value = found.scalar_one_or_none()
    return int(value) if value is not None else 0


async def advance_cursor(tx: Tx, run_id: str, name: str, after_seq: int) -> int:
    """Move the cursor to `after_seq` unless it is already there or further; return where it is.

    The run's row is locked first, so two writers of one cursor queue instead of racing to
    insert it.
    """
    await runs.lock_for_inputs(tx, run_id)
    current = await read_cursor(tx, run_id, name)
    if after_seq <= current:
        return current
    now = utcnow()
    changed = await tx.execute(
        receive_cursors.update()
        .where(receive_cursors.c.flow_run_id == run_id)
        .where(receive_cursors.c.name == name)
        .values(after_seq=after_seq, updated=now)
    )
    if not changed.rowcount:
        await tx.execute(
            receive_cursors.insert().values(
                flow_run_id=run_id, name=name, after_seq=after_seq, updated=now
            )
        )
    return after_seq
