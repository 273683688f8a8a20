"""Events: the audit trail, filtered and paged by id, with a long-poll for what comes next."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from inloop.schemas import Event
from inloop.server.access import Principal
from inloop.server.api.deps import get_db
from inloop.server.api.params import RunId
from inloop.server.api.responses import errors
from inloop.server.database.engine import Database
from inloop.server.errors import Invalid
from inloop.server.permissions import principal, require
from inloop.server.store import events, runs
from inloop.server.wakeups import wait_until

router = APIRouter(tags=["events"])
MAX_WAIT = 60.0
MAX_ID = 2**63 - 1
# Kinds are dotted lowercase words (`flow-run.paused`); an actor is any printable text.
KIND_PATTERN = r"^[a-z0-9][a-z0-9.-]*$"
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)  # a time without an offset is read as UTC


class EventQuery:
    """The filters and paging both event routes share, validated (a bad one is a 422)."""

    def __init__(
        self,
        kind: str | None = Query(
            default=None,
            max_length=100,
            pattern=KIND_PATTERN,
            description="A kind or the start of one: `flow-run.` matches every run event.",
        ),
        actor: str | None = Query(default=None, max_length=300, pattern=PRINTABLE),
        has_actor: bool | None = Query(
            default=None, description="true: only events a person or credential caused (audit)."
        ),
        since: datetime | None = Query(default=None, description="ISO 8601; UTC if no offset."),
        until: datetime | None = Query(default=None, description="ISO 8601; UTC if no offset."),
        after_id: int | None = Query(default=None, ge=0, le=MAX_ID),
        before_id: int | None = Query(default=None, ge=1, le=MAX_ID),
        order: Literal["asc", "desc"] = Query(
            default="asc", description="asc: oldest first (page with after_id); desc: newest first."
        ),
        limit: int = Query(default=100, ge=1, le=events.MAX_PAGE),
        wait: float = Query(
            default=0,
            ge=0,
            le=MAX_WAIT,
            description="Seconds to wait for a first matching event when there is none yet.",
        ),
    ) -> None:
        since, until = _utc(since), _utc(until)
        if since is not None and until is not None and until < since:
            raise Invalid(
                [{"loc": ["query", "until"],
                  "msg": f"until ({until.isoformat()}) is before since ({since.isoformat()})",
                  "type": "value_error.range"}]
            )
        self.kind, self.actor, self.has_actor = kind, actor, has_actor
        self.since, self.until = since, until
        self.after_id, self.before_id = after_id, before_id
        self.newest_first = order == "desc"
        self.limit, self.wait = limit, wait


def _hidden_from(who: Principal) -> tuple[str, ...]:
    """Kinds this caller may not read: failed sign-ins are for admins (the name typed there is
    sometimes a password)."""
    return () if who.role == "admin" else events.ADMIN_ONLY_KINDS


async def _answer(
    db: Database, q: EventQuery, flow_run_id: str | None, who: Principal
) -> list[Event]:
    hidden = _hidden_from(who)

    async def matching() -> list[Event] | None:
        async with db.read() as conn:
            found = await events.query_events(
                conn,
                kind=q.kind,
                flow_run_id=flow_run_id,
                actor=q.actor,
                has_actor=q.has_actor,
                since=q.since,
                until=q.until,
                after_id=q.after_id,
                before_id=q.before_id,
                newest_first=q.newest_first,
                limit=q.limit,
                hide_kinds=hidden,
            )
        return found or None

    return await wait_until(db.hub, [events.TOPIC], matching, q.wait) or []


@router.get("/events", responses=errors(422), dependencies=[require("runs:read")])
async def read_events(
    flow_run_id: UUID | None = Query(default=None),
    q: EventQuery = Depends(),
    who: Principal = Depends(principal),
    db: Database = Depends(get_db),
) -> list[Event]:
    """Events matching every filter; long-polls up to `wait` s for the first one. Failed
    sign-ins (`session.sign-in-failed`) are shown to admins only."""
    return await _answer(db, q, str(flow_run_id) if flow_run_id else None, who)


@router.get(
    "/flow_runs/{flow_run_id}/events", responses=errors(404, 422),
    dependencies=[require("runs:read")],
)
async def read_run_events(
    flow_run_id: RunId,
    q: EventQuery = Depends(),
    who: Principal = Depends(principal),
    db: Database = Depends(get_db),
) -> list[Event]:
    """One run's events (still answered after the run's own rows are gone)."""
    found = await _answer(db, q, flow_run_id, who)
    if not found:
        async with db.read() as conn:
            await runs.require_run_exists(conn, flow_run_id)
    return found
