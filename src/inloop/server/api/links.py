"""Signed resume links: create one for a paused run; read and use one with only its token.

`GET /api/links/<token>` and `POST /api/links/<token>` need no other credential (the
identity middleware lets exactly these two through): the token is the credential, and it grants
one thing, the answer to the one pause it was made for. The GET changes nothing, so mail
scanners and link previews that fetch it cannot use a link up.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from inloop.schemas import (
    DEFAULT_EXPIRES_SECONDS,
    MAX_EXPIRES_SECONDS,
    CreatedLink,
    FlowRun,
    LinkCreate,
    LinkView,
    ResumeRequest,
)
from inloop.server import answering
from inloop.server.access import Answerer, check_may_answer
from inloop.server.api.deps import (
    actor,
    answerer,
    get_db,
    paused_grace,
    remote_address,
    users_mode,
    validate_timeout,
)
from inloop.server.api.fast_json import json_response
from inloop.server.api.params import RunId
from inloop.server.api.responses import errors
from inloop.server.database.engine import Database
from inloop.server.errors import NotFound
from inloop.server.link_tokens import LinkTokens
from inloop.server.permissions import require
from inloop.server.store import links, pauses, runs

__all__ = ["DEFAULT_EXPIRES_SECONDS", "MAX_EXPIRES_SECONDS", "router"]

router = APIRouter(tags=["resume links"])


async def link_tokens(request: Request) -> LinkTokens:
    tokens: LinkTokens = request.app.state.link_tokens
    return tokens


def _link_id(tokens: LinkTokens, token: str) -> str:
    link_id = tokens.read(token)
    if link_id is None:
        raise NotFound(
            "this is not a valid inloop resume link: this server did not sign it (it may have "
            "been cut short when copied, or made by another server). Open the full link from "
            "the message, or ask its sender for a new one."
        )
    return link_id


def _base_url(request: Request) -> str:
    """Where links point: INLOOP_UI_URL when set (behind a proxy), else this server's own URL."""
    configured: str | None = request.app.state.settings.ui_url
    return (configured or str(request.base_url)).rstrip("/")


@router.post(
    "/flow_runs/{flow_run_id}/links", status_code=201, responses=errors(403, 404, 409, 422),
    dependencies=[require("links:create")],
)
async def create_link(
    flow_run_id: RunId,
    body: LinkCreate,
    request: Request,
    who: str = Depends(actor),
    maker: Answerer = Depends(answerer),
    people: bool = Depends(users_mode),
    remote: str | None = Depends(remote_address),
    tokens: LinkTokens = Depends(link_tokens),
    db: Database = Depends(get_db),
) -> CreatedLink:
    """A signed link that answers the run's current pause once, for `recipient`.

    403 naming the rule when the pause's rules would refuse the recipient, or the caller: a
    link is worth no more than the standing of whoever made it (the run's starter cannot make
    one past `allow_self_approval=False`), and a link that could never be used is not made.
    """
    recipient = body.recipient.strip()
    async with db.transaction() as tx:
        run = await runs.read_run(tx, flow_run_id)
        if run is not None and run.pause is not None:
            answerer = await links.answerer_for(tx, recipient, made_by=maker)
            check_may_answer(answerer, pauses.rules_of(run), users_mode=people)
        link = await links.create_link(
            tx,
            flow_run_id,
            recipient=recipient,
            expires_in=body.expires_in,
            created_by=who,
            remote=remote,
        )
    return CreatedLink(
        id=link.id,
        url=f"{_base_url(request)}/r/{tokens.mint(link.id)}",
        flow_run_id=link.flow_run_id,
        pause_key=link.pause_key,
        recipient=link.recipient,
        created_at=link.created_at,
        expires_at=link.expires_at,
    )


@router.get("/links/{token}", responses=errors(404))
async def read_link(
    token: str,
    tokens: LinkTokens = Depends(link_tokens),
    db: Database = Depends(get_db),
) -> LinkView:
    """The link's run and pause (while open), or why and since when it no longer works."""
    link_id = _link_id(tokens, token)
    async with db.read() as conn:
        link = await links.read_link(conn, link_id)
        return LinkView.model_validate(await links.describe(conn, link))


@router.post(
    "/links/{token}", response_model=FlowRun, responses=errors(404, 409, 413, 422)
)
async def use_link(
    token: str,
    # Optional, like /resume: a bodiless POST answers with the pause's defaults.
    body: ResumeRequest | None = None,
    grace: float | None = Depends(paused_grace),
    verdict_wait: float = Depends(validate_timeout),
    people: bool = Depends(users_mode),
    remote: str | None = Depends(remote_address),
    tokens: LinkTokens = Depends(link_tokens),
    db: Database = Depends(get_db),
) -> Response:
    """Answer the link's pause; the link is used in the same transaction as the resume.

    A used, superseded or expired link is a 409 whose `link` describes it like the GET does.
    """
    link_id = _link_id(tokens, token)
    try:
        # Judged with its maker as they stand now, as well as its recipient.
        run = await answering.answer_link(
            db,
            link_id,
            body.run_input if body is not None else None,
            users_mode=people,
            grace=grace,
            remote=remote,
            verdict_wait=verdict_wait,
        )
    except links.LinkUnusable as exc:
        view = LinkView.model_validate(exc.link).model_dump(mode="json", by_alias=True)
        return JSONResponse({"detail": exc.detail, "link": view}, status_code=409)
    return json_response(run, FlowRun)
