"""Validate before resume: the paused flow judges an answer before the resume commits.

The flow's process long-polls `GET /flow_runs/{id}/offers` and answers each offer with
`POST /flow_runs/{id}/offers/{offer_id}`. The resume's side (make the offer, wait for the
verdict, refuse the resume with the flow's errors or let it go on) is
`inloop.server.answering.offer_first`. A flow that rejected an answer after
it was committed (the seed's loop, without the opt-in) reports it with
`POST /flow_runs/{id}/input_rejected`, so both kinds of refusal are one event kind.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from inloop.bounds import MAX_INT64, Text
from inloop.schemas import Offer, Rejection, ValidationIssue, Verdict
from inloop.server.api.deps import actor, get_db, remote_address
from inloop.server.api.params import Cursor, RunId
from inloop.server.api.responses import errors
from inloop.server.database.engine import Database
from inloop.server.permissions import require
from inloop.server.store import offers, pauses, runs
from inloop.server.wakeups import wait_until

__all__ = ["router"]

router = APIRouter(prefix="/flow_runs", tags=["flow runs"])
MAX_WAIT = 60.0


def _located(issues: list[ValidationIssue]) -> list[dict[str, Any]]:
    """The flow's errors (located in its model) located in a resume's body, as a schema's are."""
    return [{**issue.model_dump(), "loc": ["run_input", *issue.loc]} for issue in issues]


@router.get(
    "/{flow_run_id}/offers", responses=errors(404, 422),
    dependencies=[require("runs:validate")],
)
async def wait_for_offers(
    flow_run_id: RunId,
    key: Annotated[Text, Query(min_length=1, max_length=200)],
    after_id: Cursor = 0,
    wait: float = Query(default=0, ge=0, le=MAX_WAIT),
    db: Database = Depends(get_db),
) -> list[Offer]:
    """Long-poll for undecided resume offers of pause `key` after `after_id`."""
    async with db.read() as conn:
        await runs.require_run_exists(conn, flow_run_id)

    async def found() -> list[dict[str, Any]] | None:
        async with db.read() as conn:
            return await offers.pending(conn, flow_run_id, key, after_id) or None

    pending = await wait_until(db.hub, [offers.run_topic(flow_run_id)], found, wait)
    return [Offer(**offer) for offer in pending or []]


@router.post(
    "/{flow_run_id}/offers/{offer_id}", status_code=204, responses=errors(404, 409, 413, 422),
    dependencies=[require("runs:validate")],
)
async def answer_offer(
    flow_run_id: RunId,
    offer_id: Annotated[int, Path(ge=1, le=MAX_INT64)],
    body: Verdict,
    db: Database = Depends(get_db),
) -> None:
    """The flow's verdict on an offer: no errors accepts it, errors refuse the resume."""
    async with db.transaction() as tx:
        await offers.decide(tx, flow_run_id, offer_id, _located(body.errors))


@router.post(
    "/{flow_run_id}/input_rejected", status_code=204, responses=errors(404, 413, 422),
    dependencies=[require("runs:validate")],
)
async def input_rejected(
    flow_run_id: RunId,
    body: Rejection,
    who: str = Depends(actor),
    remote: str | None = Depends(remote_address),
    db: Database = Depends(get_db),
) -> None:
    """The flow refused the answer it was resumed with (and, in the seed's loop, asks again)."""
    async with db.transaction() as tx:
        await pauses.record_rejected_resume(
            tx, flow_run_id, _located(body.errors),
            actor=who, remote=remote, key=body.key, by="flow-after-resume",
        )
