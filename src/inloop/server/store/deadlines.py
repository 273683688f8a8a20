"""Pauses whose deadline passed with no answer: the clock's side of waiting.

A pause that chose `on_timeout="defaults"` is resumed with its defaults instead, through the
answer path (`store/pauses.resume_overdue_with_defaults`, called by `inloop.server.answering`).
"""

from __future__ import annotations

from datetime import timedelta

from inloop.schemas import WAITING_STATES, StateType
from inloop.server.database.engine import Tx
from inloop.server.database.schema import flow_runs, utcnow
from inloop.server.store import runs

__all__ = ["expire_overdue_pauses"]

S = StateType


async def expire_overdue_pauses(tx: Tx, grace_seconds: float = 2.0) -> list[str]:
    """Fail paused or suspended runs whose deadline passed with no answer.

    Pauses that chose on_timeout="defaults" are resumed instead (store/pauses.py), not failed.
    """
    cutoff = utcnow() - timedelta(seconds=grace_seconds)
    rows = await tx.execute(
        runs.RUN_SELECT.where(flow_runs.c.state_type.in_([S.PAUSED.value, S.SUSPENDED.value]))
        .where(flow_runs.c.pause_deadline.is_not(None))
        .where(flow_runs.c.pause_deadline < cutoff)
        .where(flow_runs.c.pause_on_timeout.is_(None))
        .limit(100)
    )
    failed = []
    for row in rows.all():
        locked = await runs.lock_run(tx, row.id)
        if StateType(locked.state_type) not in WAITING_STATES or locked.pause_on_timeout:
            continue
        waited = (locked.pause_deadline - locked.pause_started).total_seconds()
        verb = "suspended" if locked.pause_reschedule else "paused"
        await runs.write_state(
            tx,
            locked,
            S.FAILED,
            message=(
                f"flow run {verb} at '{locked.pause_key}' timed out after {waited:g} s "
                "without being resumed"
            ),
            actor="timeout",
        )
        failed.append(row.id)
    return failed
