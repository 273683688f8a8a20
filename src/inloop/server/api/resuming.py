"""The one way the API resumes a run, whoever answers: a person, a script, or a signed link.

Every resume goes through `resume()`, with the actor it is recorded under, so a rule about who
may answer a pause belongs here, once, for every path. A link's use is claimed in the same
transaction as the resume it makes, so the two commit together or not at all.
"""

from __future__ import annotations

from typing import Any

from inloop.schemas import FlowRun, StateType
from inloop.server.answer_rules import Answerer, AnswerRefused, check_may_answer
from inloop.server.api.offers import FlowRejected, offer_first
from inloop.server.database.engine import Database
from inloop.server.errors import Conflict, Invalid
from inloop.server.store import links, pauses, runs

__all__ = ["resume"]


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
    """Resume the run as `actor`; with `link_id` (a link of this run), only if that link can
    still answer, and use it up.

    Refusals: 409 when the run is not waiting (or, with a link, when the link was used,
    superseded or expired: `links.LinkUnusable`), 422 when the schema refuses the answer (the
    refusal is recorded as an event; a link stays usable, so a typo does not burn it).

    A pause that opted in to validate_before_resume first has the answer judged by the waiting
    flow (up to `verdict_wait` seconds); its refusal is a 422 like the schema's.

    Who may answer is decided by `answer_rules` inside `pauses.resume_run`, under the run's row
    lock; it is also asked before the flow is, so a refused answerer learns nothing from the
    flow's validators. A refusal is a 403 naming the rule, recorded as an event.
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
