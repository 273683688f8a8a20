"""The inbox: every run waiting for a person, oldest first.

In users mode each person sees what waits for them: the pauses `access.refusal` lets them answer.
Operators and admins may ask for everything (`all=true`), each item with its `can_answer`.
Open and shared-key servers list every waiting run, as they always have.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Depends, Query

from inloop._version import __version__
from inloop.schemas import Count, FlowRun, Health, InboxItem
from inloop.server.access import Answerer, refusal
from inloop.server.api.deps import answerer, get_db, users_mode
from inloop.server.api.params import Offset
from inloop.server.api.responses import errors
from inloop.server.database.engine import Database
from inloop.server.errors import Forbidden
from inloop.server.permissions import require
from inloop.server.store import inbox as store_inbox
from inloop.server.store import pauses

router = APIRouter(tags=["inbox"])


@router.get("/health")
async def health(db: Database = Depends(get_db)) -> Health:
    return Health(status="ok", version=__version__, database=db.dialect_name)


SEE_ALL = frozenset({"operator", "admin"})


def _judge(who: Answerer, people: bool) -> Callable[[FlowRun], bool]:
    def may_answer(run: FlowRun) -> bool:
        return refusal(who, pauses.rules_of(run), users_mode=people) is None

    return may_answer


def _check_all(who: Answerer, everything: bool) -> None:
    if everything and who.role not in SEE_ALL:
        raise Forbidden(
            f"all=true lists pauses you may not answer, for roles {', '.join(sorted(SEE_ALL))}; "
            f"you are {who.actor} with role {who.role!r}: leave out all=true to see what "
            "waits for you"
        )


@router.get("/inbox", responses=errors(403, 422), dependencies=[require("runs:read")])
async def inbox(
    limit: int = Query(default=50, ge=1, le=1000),
    offset: Offset = 0,
    everything: bool = Query(default=False, alias="all"),
    who: Answerer = Depends(answerer),
    people: bool = Depends(users_mode),
    db: Database = Depends(get_db),
) -> list[InboxItem]:
    """Waiting runs, oldest first. Users mode: only those the caller may answer, unless
    `all=true` (operators, admins); every item says `can_answer` for the caller."""
    _check_all(who, everything)
    async with db.read() as conn:
        return await store_inbox.list_waiting(
            conn,
            limit=limit,
            offset=offset,
            may_answer=_judge(who, people),
            only_answerable=people and not everything,
        )


@router.get("/inbox/count", responses=errors(403, 422), dependencies=[require("runs:read")])
async def inbox_count(
    everything: bool = Query(default=False, alias="all"),
    who: Answerer = Depends(answerer),
    people: bool = Depends(users_mode),
    db: Database = Depends(get_db),
) -> Count:
    """How many runs `GET /inbox` (with the same `all`) would list."""
    _check_all(who, everything)
    judge = _judge(who, people) if people and not everything else None
    async with db.read() as conn:
        return Count(count=await store_inbox.count_waiting(conn, judge))
