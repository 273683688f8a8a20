"""Judging a run's process by its silence: when a run with no word from its process is CRASHED.

Silence is weak evidence. A process on a saturated machine, or beating to a server that is itself
starved, can be quiet for a while and still be alive; calling it crashed destroys live work. So
the strong evidence comes first: a runner reaps its child and reports how it ended (exit code or
signal) the moment it does, and the run is CRASHED at once with that in its message. Silence alone
judges a run only after a budget many heartbeats long, longer still for a paused run, whose
process holds no work and loses nothing by waiting; and only over time this server could hear
heartbeats (server/silence: not just after its start or a stall of its own). Each judgement is
made on the locked row (so it happens once) and says what it rests on: the last heartbeat, how
long the process has been silent and the budget it exceeded.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from inloop.schemas import StateType
from inloop.server.database.engine import Tx
from inloop.server.database.schema import flow_runs, utcnow
from inloop.server.store import inputs, runs

__all__ = ["Budgets", "mark_silent_runs_crashed", "silence_details", "silence_message"]

S = StateType
JUDGED = (S.PENDING, S.RUNNING, S.PAUSED)
BATCH = 100
# Which setting sets each state's budget, named in the crash message so an operator can act.
SETTING = {
    S.PENDING: "INLOOP_HEARTBEAT_GRACE_SECONDS",
    S.RUNNING: "INLOOP_HEARTBEAT_GRACE_SECONDS",
    S.PAUSED: "INLOOP_PAUSED_HEARTBEAT_GRACE_SECONDS",
}
# A resumed process beats again within a heartbeat of reading its answer.
UNREAD_ANSWER_WINDOW = timedelta(seconds=1)

Budgets = dict[StateType, float]
"""Seconds of silence each judged state allows; a state left out is not judged."""


def silence_message(
    state: StateType, last_heartbeat: datetime, budget: float, now: datetime | None = None
) -> str:
    silent = ((now or utcnow()) - last_heartbeat).total_seconds()
    return (
        f"the process running this flow run stopped answering: last heartbeat at "
        f"{last_heartbeat.isoformat()}, silent for {silent:.0f} s, budget {budget:g} s for a "
        f"{state.display_name.lower()} run ({SETTING.get(state, 'its grace')}); marked crashed"
    )


def silence_details(
    last_heartbeat: datetime, budget: float, now: datetime | None = None
) -> dict[str, Any]:
    """What the judgement rested on, for the state's details (machine-readable twin of above)."""
    silent = ((now or utcnow()) - last_heartbeat).total_seconds()
    return {
        "judged_by": "heartbeat silence",
        "last_heartbeat": last_heartbeat.isoformat(),
        "silent_seconds": round(silent, 1),
        "budget_seconds": budget,
    }


async def mark_silent_runs_crashed(tx: Tx, budgets: Budgets) -> list[str]:
    """Runs whose process has been silent for longer than their state's budget: CRASHED.

    Idempotent: each run is judged again on its locked row, so a run that beat, moved on or
    was judged by another pass (or a runner's report) meanwhile is left alone.
    """
    now = utcnow()
    cutoffs = {state: now - timedelta(seconds=budget) for state, budget in budgets.items()}
    if not cutoffs:
        return []
    silent = sa.or_(
        *(
            sa.and_(flow_runs.c.state_type == state.value, flow_runs.c.heartbeat_at < cutoff)
            for state, cutoff in cutoffs.items()
        )
    )
    found = await tx.execute(sa.select(flow_runs.c.id).where(silent).limit(BATCH))
    crashed = []
    for run_id in found.scalars().all():
        locked = await runs.lock_run(tx, run_id)
        state = StateType(locked.state_type)
        cutoff = cutoffs.get(state)
        if cutoff is None or locked.heartbeat_at is None or locked.heartbeat_at >= cutoff:
            continue  # it beat, or moved on, meanwhile
        budget = budgets[state]
        message = silence_message(state, locked.heartbeat_at, budget, now)
        details = silence_details(locked.heartbeat_at, budget, now)
        unread = await _answer_left_unread(tx, locked)
        if unread is not None:
            message += (
                f"; the answer to '{locked.pause_key}' stored at {unread.isoformat()} may never "
                f"have been read (no word from the process since): it is kept as input "
                f"'{locked.pause_key}-response'"
            )
            details["unread_answer"] = f"{locked.pause_key}-response"
        await runs.write_state(
            tx, locked, S.CRASHED, message=message, details=details, actor="server"
        )
        crashed.append(str(run_id))
    return crashed


async def _answer_left_unread(tx: Tx, row: Any) -> datetime | None:
    """When the answer to the run's last pause came just before its process fell silent.

    A resume is acknowledged while the paused process counts as alive; it may still be dead
    (killed within its budget) or die in the moment after. Its crash then says so, and where the
    answer waits, rather than letting an acknowledged answer vanish without a word.
    """
    if StateType(row.state_type) is not S.RUNNING or not row.pause_key:
        return None
    answer = await inputs.read_input(tx, row.id, f"{row.pause_key}-response")
    if answer is None or row.heartbeat_at - answer.created > UNREAD_ANSWER_WINDOW:
        return None
    created: datetime = answer.created
    return created
