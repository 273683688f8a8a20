"""The one way a pause is answered, whoever answers: a person or a script through the API, a
signed link, an automation's resume-with-defaults, or the server itself when a pause that chose
its defaults times out.

Each path calls in here, and only this module calls `store.pauses.resume_run` (and
`resume_overdue_with_defaults`), so a rule about answering belongs here or in
`inloop.server.access` (who may answer), once for every path. The steps of an answer, in order:

1. who may answer (`access.check_may_answer`), asked before anything else, so a refused
   answerer learns nothing from the flow's validators; asked again under the run's row lock;
2. the flow's verdict, when the pause opted in to validate_before_resume (`offer_first`);
3. the link's claim, in the same transaction as the resume, so the two commit together or not
   at all;
4. the resume itself (`store.pauses.resume_run`), which validates against the pause's schema.

No web framework here: the routes in `server/api/` turn requests into these calls.
"""

from __future__ import annotations

import logging
from typing import Any

from inloop.schemas import FlowRun, StateType
from inloop.server.access import Answerer, AnswerRefused, check_may_answer
from inloop.server.database.engine import Database
from inloop.server.errors import Conflict, Invalid
from inloop.server.store import links, offers, pauses, runs
from inloop.server.wakeups import wait_until

__all__ = [
    "FlowRejected",
    "answer_link",
    "offer_first",
    "resume",
    "resume_overdue_with_defaults",
    "resume_with_defaults",
]

log = logging.getLogger("inloop.server.offers")


class FlowRejected(Invalid):
    """422 with the flow's own validation errors; its event is already recorded."""


async def resume(
    db: Database,
    flow_run_id: str,
    run_input: dict[str, Any] | None,
    *,
    answerer: Answerer,
    users_mode: bool,
    grace: float | None,
    remote: str | None,
    verdict_wait: float = 0,
    link_id: str | None = None,
) -> FlowRun:
    """Resume the run as `answerer`; with `link_id` (a link of this run), only if that link can
    still answer, and use it up.

    Refusals: 409 when the run is not waiting (or, with a link, when the link was used,
    superseded or expired: `links.LinkUnusable`), 422 when the schema refuses the answer (the
    refusal is recorded as an event; a link stays usable, so a typo does not burn it).

    A pause that opted in to validate_before_resume first has the answer judged by the waiting
    flow (up to `verdict_wait` seconds); its refusal is a 422 like the schema's.

    Who may answer is decided by `access.check_may_answer` inside `pauses.resume_run`, under
    the run's row lock; it is also asked before the flow is, so a refused answerer learns
    nothing from the flow's validators. A refusal is a 403 naming the rule, recorded as an event.
    """
    actor = answerer.actor
    try:
        async with db.read() as conn:
            current = await runs.read_run(conn, flow_run_id)
        if current is not None and current.pause is not None:
            check_may_answer(answerer, pauses.rules_of(current), users_mode=users_mode)
        # Without the opt-in (or without a live process) this returns None at once.
        judged = await offer_first(
            db, flow_run_id, run_input, who=actor, remote=remote, grace=grace,
            timeout=verdict_wait,
        )
        async with db.transaction() as tx:
            # The link first: a second use of it waits here for the first to commit.
            link = await links.claim(tx, link_id, flow_run_id) if link_id is not None else None
            run = await pauses.resume_run(
                tx, flow_run_id, run_input, answerer, grace, users_mode=users_mode,
                remote=remote, expected_key=judged[0] if judged else None,
                verdict=judged[1] if judged else None,
            )
            if link is not None and run.state.type is not StateType.CRASHED:
                await links.mark_used(tx, link, remote=remote)
    except AnswerRefused as exc:
        async with db.transaction() as tx:
            await pauses.record_refused_answer(
                tx, flow_run_id, exc.rule, str(exc.detail), actor=actor, remote=remote
            )
        raise
    except Invalid as exc:
        # The resume rolled back; the refusal is still worth an event (an automation may tell
        # the person), written on its own. The flow's own refusal recorded one already.
        if isinstance(exc.detail, list) and not isinstance(exc, FlowRejected):
            async with db.transaction() as tx:
                await pauses.record_rejected_resume(
                    tx, flow_run_id, exc.detail, actor=actor, remote=remote
                )
        raise
    # A resume never crashes a run, unless the process waiting on the pause was gone: the
    # crash is committed, and the answer refused, since nothing would ever read it.
    if run.state.type is StateType.CRASHED:
        raise Conflict(
            f"flow run '{run.name}' can no longer be resumed: {run.state.message}; "
            "the answer was not stored. Start a new run to ask again"
        )
    return run


async def answer_link(
    db: Database,
    link_id: str,
    run_input: dict[str, Any] | None,
    *,
    users_mode: bool,
    grace: float | None,
    remote: str | None,
    verdict_wait: float = 0,
) -> FlowRun:
    """Answer the pause of link `link_id` (already verified from its signed token) as its
    recipient, judged with its maker as they stand now as well (see `access`).

    Raises `links.LinkUnusable` (409) when the link was used, superseded or expired, and
    whatever `resume` raises.
    """
    async with db.read() as conn:
        link = await links.read_link(conn, link_id)
        made_by = await links.maker(conn, link.created_by)
        by = await links.answerer_for(conn, link.recipient, made_by=made_by)
    return await resume(
        db, link.flow_run_id, run_input, answerer=by, users_mode=users_mode, grace=grace,
        remote=remote, verdict_wait=verdict_wait, link_id=link.id,
    )


async def resume_with_defaults(db: Database, flow_run_id: str, actor: str,
                               grace: float | None) -> FlowRun:
    """An automation's resume-with-defaults: the pause's defaults, answered as `actor`.

    An automation is an admin's standing order: exempt from assignees, like an admin, and never
    the run's creator, so the same rules pass it through `access`. No flow verdict is asked for
    and no refusal event written: the automation's delivery records its own failure. A run
    whose waiting process is gone comes back CRASHED (the caller reports it).
    """
    answerer = Answerer(actor, None, (), "admin")
    async with db.transaction() as tx:
        return await pauses.resume_run(tx, flow_run_id, None, answerer, grace, users_mode=True)


async def resume_overdue_with_defaults(db: Database) -> list[str]:
    """The server's own answer: resume each run whose pause chose `on_timeout='defaults'` and
    whose deadline passed, with the answer stored when it paused (one transaction)."""
    async with db.transaction() as tx:
        return await pauses.resume_overdue_with_defaults(tx)


async def offer_first(
    db: Database,
    flow_run_id: str,
    run_input: dict[str, Any] | None,
    *,
    who: str,
    remote: str | None,
    grace: float | None,
    timeout: float,
) -> tuple[str, str] | None:
    """Offer the answer to the paused flow when its pause asks for that; the pause key it was
    judged for and the verdict (`accepted`, or `no-answer` when the flow did not answer in
    time), None when nobody was asked.

    The flow's process long-polls for offers and answers them through `api/offers.py`; here we
    make the offer and wait (woken, not polling) for the verdict within `timeout`
    (INLOOP_VALIDATE_TIMEOUT_SECONDS). Raises FlowRejected (422) with the flow's errors when the
    flow refused it.
    """
    async with db.transaction() as tx:
        made = await offers.open_offer(
            tx, flow_run_id, run_input, actor=who, remote=remote, waiter_grace=grace
        )
    if made is None:
        return None
    offer_id, key = made

    async def decided() -> Any:
        async with db.read() as conn:
            offer = await offers.read_offer(conn, offer_id)
        return offer if offer.verdict is not None else None

    offer = await wait_until(db.hub, [offers.offer_topic(offer_id)], decided, timeout)
    if offer is None:
        async with db.transaction() as tx:
            offer = await offers.expire(tx, flow_run_id, offer_id)
    if offer.verdict == offers.REJECTED:
        raise FlowRejected(offer.errors)
    if offer.verdict == offers.EXPIRED:
        log.warning(
            "flow run %s did not judge resume offer %s within %g s (INLOOP_VALIDATE_TIMEOUT_"
            "SECONDS); resuming without its verdict, the flow validates the answer itself",
            flow_run_id, offer_id, timeout,
        )
    return key, ("accepted" if offer.verdict == offers.ACCEPTED else "no-answer")
