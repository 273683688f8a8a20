"""Resume offers: an answer held back while the paused flow's own validators judge it.

A pause that opted in (`validate_before_resume=True`) and whose process is alive gets each
resume offered first: the offer is a row, committed before anyone waits on it, and its topic
(`offers:<run>`) wakes the flow's long-poll on any replica. The flow's verdict is written to the
same row and wakes the resume that waits on `offer:<id>`. A verdict that comes too late finds the
offer expired and changes nothing: the resume went ahead as it would without the opt-in.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from inloop.schemas import StateType
from inloop.server.database.engine import Connection, Tx
from inloop.server.database.schema import resume_offers, utcnow
from inloop.server.errors import Conflict, Invalid, NotFound
from inloop.server.store import inputs, pauses, runs

__all__ = ["decide", "expire", "offer_topic", "open_offer", "pending", "read_offer", "run_topic"]

VALIDATE_DETAIL = "validate_before_resume"
ACCEPTED, REJECTED, EXPIRED = "accepted", "rejected", "expired"


def run_topic(run_id: str) -> str:
    """Fires when an offer for this run's pause is made: the paused flow listens."""
    return f"offers:{run_id}"


def offer_topic(offer_id: int) -> str:
    """Fires when this offer is decided: the resume that made it listens."""
    return f"offer:{offer_id}"


def _process_alive(row: Any, waiter_grace: float | None) -> bool:
    if row.heartbeat_at is None:
        return False  # nothing ever beat for this run: no process to ask
    if waiter_grace is None:
        return True  # a young server: the process has not had a chance to check in yet
    silent: float = (utcnow() - row.heartbeat_at).total_seconds()
    return silent <= waiter_grace


async def open_offer(
    tx: Tx,
    run_id: str,
    run_input: dict[str, Any] | None,
    *,
    actor: str,
    remote: str | None,
    waiter_grace: float | None,
) -> tuple[int, str] | None:
    """Offer `run_input` to the paused flow: (offer id, pause key), or None when nobody is to
    be asked (no opt-in, suspended, no input asked, a silent process, a deadline passed): the
    resume then goes on exactly as it would have without the opt-in.

    An answer the pause's JSON schema already refuses is refused here (422), without waking
    the flow: the schema says all there is to say.
    """
    row = await runs.lock_run(tx, run_id)
    details = row.state_details or {}
    if StateType(row.state_type) is not StateType.PAUSED or not details.get(VALIDATE_DETAIL):
        return None
    if not _process_alive(row, waiter_grace):
        return None
    if row.pause_deadline is not None and row.pause_deadline < utcnow():
        return None
    schema = await inputs.read_input(tx, run_id, f"{row.pause_key}-schema")
    if schema is None:
        return None
    value = pauses.with_defaults(schema.value, {}) if run_input is None else run_input
    try:
        errors = pauses.validate_against_schema(schema.value, value)
    except pauses.UnusableSchema:
        return None  # resume_run says why the run cannot be resumed
    if errors:
        raise Invalid(errors)
    offer_id = await tx.execute(
        sa.insert(resume_offers).returning(resume_offers.c.id).values(
            flow_run_id=run_id,
            pause_key=row.pause_key,
            value=value,
            actor=actor[:300],
            remote=remote[:100] if remote else None,
            offered=utcnow(),
        )
    )
    tx.notify(run_topic(run_id))
    return int(offer_id.scalar_one()), str(row.pause_key)


async def read_offer(conn: Connection, offer_id: int) -> Any:
    found = (
        await conn.execute(sa.select(resume_offers).where(resume_offers.c.id == offer_id))
    ).first()
    if found is None:
        raise NotFound(f"resume offer {offer_id} not found")
    return found


async def pending(conn: Connection, run_id: str, key: str, after_id: int) -> list[dict[str, Any]]:
    """The undecided offers for this run's pause `key` after `after_id`, oldest first."""
    rows = await conn.execute(
        sa.select(resume_offers.c.id, resume_offers.c.value)
        .where(resume_offers.c.flow_run_id == run_id)
        .where(resume_offers.c.pause_key == key)
        .where(resume_offers.c.verdict.is_(None))
        .where(resume_offers.c.id > after_id)
        .order_by(resume_offers.c.id)
        .limit(100)
    )
    return [{"id": row.id, "value": row.value} for row in rows]


async def _settle(tx: Tx, run_id: str, offer_id: int, verdict: str, errors: Any) -> int:
    """Decide a pending offer; how many rows changed (0: it was decided already)."""
    result = await tx.execute(
        sa.update(resume_offers)
        .where(resume_offers.c.id == offer_id)
        .where(resume_offers.c.flow_run_id == run_id)
        .where(resume_offers.c.verdict.is_(None))
        # The value was only held for the flow to judge: once judged it is not kept here.
        .values(verdict=verdict, errors=errors, decided=utcnow(), value=None)
    )
    tx.notify(offer_topic(offer_id))
    return result.rowcount


async def decide(
    tx: Tx, run_id: str, offer_id: int, errors: list[dict[str, Any]]
) -> None:
    """The flow's verdict: accepted when `errors` is empty. A rejection is an event
    (`flow-run.input-rejected`) in the name of whoever submitted the answer."""
    offer = await read_offer(tx, offer_id)
    if offer.flow_run_id != run_id:
        raise NotFound(f"resume offer {offer_id} is not for flow run '{run_id}'")
    verdict = REJECTED if errors else ACCEPTED
    if not await _settle(tx, run_id, offer_id, verdict, errors or None):
        raise Conflict(
            f"resume offer {offer_id} was already decided ({offer.verdict}); a verdict that "
            "comes after the resume's wait has ended changes nothing"
        )
    if errors:
        await pauses.record_rejected_resume(
            tx, run_id, errors, actor=offer.actor, remote=offer.remote,
            key=offer.pause_key, by="flow",
        )


async def expire(tx: Tx, run_id: str, offer_id: int) -> Any:
    """The wait for a verdict is over: mark a still-pending offer expired; the offer as it now
    stands (a verdict that landed meanwhile wins)."""
    await _settle(tx, run_id, offer_id, EXPIRED, None)
    return await read_offer(tx, offer_id)
