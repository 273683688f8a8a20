"""Signed resume links: the rows behind them, and whether a link can still answer its pause.

A link answers exactly one pause (the run's pause key when it was made), until it expires, once.
Its state is judged from its row and the run's, never from the token: `status()` says why a
link can no longer be used (used, superseded, expired) and when that happened. Using a link is
`claim()` (the row locked, so two uses queue and the second sees the first) followed, in the same
transaction, by the resume and `mark_used()`.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from inloop.event_kinds import EventKind
from inloop.schemas import FINAL_STATES, WAITING_STATES, FlowRun, StateType
from inloop.server.access import Answerer
from inloop.server.database.engine import Connection, Tx
from inloop.server.database.schema import resume_links, utcnow
from inloop.server.errors import Conflict, NotFound
from inloop.server.store import events, inputs, runs, users

__all__ = [
    "AUTOMATION_PREFIX",
    "LinkUnusable",
    "answerer_for",
    "claim",
    "create_link",
    "describe",
    "find_link",
    "made_by_system",
    "maker",
    "mark_used",
    "read_link",
]

# The actor of what an automation does (automations/actions.actor_of); user names hold no ':'.
AUTOMATION_PREFIX = "automation:"


class LinkUnusable(Conflict):
    """409: the link was used, superseded or expired; `link` describes it, for the page."""

    def __init__(self, link: dict[str, Any]) -> None:
        super().__init__(link["message"])
        self.link = link


async def create_link(
    tx: Tx,
    run_id: str,
    *,
    recipient: str,
    expires_in: float,
    created_by: str | None,
    remote: str | None = None,
    link_id: str | None = None,
) -> Any:
    """A new link for the run's current pause; 409 when the run is not waiting on one.

    `link_id` names the link (an automation's delivery id, so its retries share one link);
    unset, a random one."""
    run = await runs.lock_run(tx, run_id)
    if StateType(run.state_type) not in WAITING_STATES or run.pause_key is None:
        raise Conflict(
            f"flow run '{run.name}' is not paused (state: {run.state_name}); a resume link "
            "answers a pause, so create it while the run waits for input"
        )
    now = utcnow()
    values = {
        "id": link_id or str(uuid.uuid4()),
        "flow_run_id": run_id,
        "pause_key": run.pause_key,
        "recipient": recipient,
        "created_by": created_by,
        "created_at": now,
        "expires_at": now + timedelta(seconds=expires_in),
    }
    await tx.execute(resume_links.insert().values(**values))
    await events.record(
        tx,
        EventKind.LINK_CREATED,
        actor=created_by,
        flow_run_id=run_id,
        remote=remote,
        details={
            "link_id": values["id"],
            "recipient": recipient,
            "pause_key": run.pause_key,
            "expires_at": values["expires_at"].isoformat(),
            # Who stands behind the link: a person (judged with it when it is used), or the
            # server itself for an automation (never the run's starter).
            "made_by": created_by,
            "made_by_kind": "automation" if made_by_system(created_by) else "person",
        },
    )
    return await read_link(tx, values["id"])


async def find_link(conn: Connection, link_id: str) -> Any:
    """The link's row; None when there is none."""
    return (
        await conn.execute(sa.select(resume_links).where(resume_links.c.id == link_id))
    ).first()


async def read_link(conn: Connection, link_id: str) -> Any:
    row = await find_link(conn, link_id)
    if row is None:
        # Signed by this server, yet gone: its run was deleted (the rows cascade).
        raise NotFound("this link's flow run no longer exists; ask for a new link")
    return row


async def describe(conn: Connection, link: Any) -> dict[str, Any]:
    """What the link page shows: the run, and either the open pause or why the link is closed."""
    run = await runs.require_run(conn, link.flow_run_id)
    answered = await inputs.read_input(conn, link.flow_run_id, f"{link.pause_key}-response")
    status, message, at = _status(link, run, answered.created if answered else None, utcnow())
    found: dict[str, Any] = {
        "id": link.id,
        "status": status,
        "message": message,
        "at": at,
        "recipient": link.recipient,
        "pause_key": link.pause_key,
        "created_at": link.created_at,
        "expires_at": link.expires_at,
        "used_at": link.used_at,
        "run": {
            "id": str(run.id),
            "name": run.name,
            "flow_name": run.flow_name,
            "state": {"type": run.state.type, "name": run.state.name},
        },
        "pause": None,
    }
    if status == "open":
        schema = await inputs.read_input(conn, link.flow_run_id, f"{link.pause_key}-schema")
        description = await inputs.read_input(
            conn, link.flow_run_id, f"{link.pause_key}-description"
        )
        pause = run.pause
        found["pause"] = {
            "key": link.pause_key,
            "schema": schema.value if schema else None,
            "description": description.value if description else None,
            "deadline": pause.deadline if pause else None,
            "reschedule": pause.reschedule if pause else False,
            "on_timeout": pause.on_timeout if pause else "fail",
        }
    return found


def _status(
    link: Any, run: FlowRun, answered_at: datetime | None, now: datetime
) -> tuple[str, str, datetime | None]:
    """(status, why, when): `open`, or the first of used, superseded, expired that applies.

    Used comes first (it is what the holder most likely did), then superseded (the question is
    gone, so a new link would not help either), then expired (a new link would).
    """
    if link.used_at is not None:
        return "used", f"This link was already used, at {_iso(link.used_at)}.", link.used_at
    if answered_at is not None:
        return (
            "superseded",
            f"The run was already answered another way, at {_iso(answered_at)}.",
            answered_at,
        )
    state = run.state
    if state.type in FINAL_STATES:
        return (
            "superseded",
            f"The run has ended ({state.name}), at {_iso(state.timestamp)}.",
            state.timestamp,
        )
    if state.type not in WAITING_STATES or run.pause is None or run.pause.key != link.pause_key:
        asks = (
            f" it now waits on a newer question (pause {run.pause.key!r}); ask for a new link"
            if run.pause is not None
            else f" (state: {state.name})"
        )
        return (
            "superseded",
            f"The run no longer waits on the question this link answers;{asks}.",
            state.timestamp,
        )
    if link.expires_at <= now:
        return (
            "expired",
            f"This link expired at {_iso(link.expires_at)}; ask for a new link.",
            link.expires_at,
        )
    return "open", "This link is ready to answer the run's question.", None


def _iso(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "an unknown time"


async def claim(tx: Tx, link_id: str, flow_run_id: str) -> Any:
    """The link's row, locked until commit, when it can still answer; LinkUnusable otherwise.

    The lock (FOR UPDATE on PostgreSQL; SQLite's one writer elsewhere) makes a second use of
    the same link wait for the first to commit, and then see it used.
    """
    query = sa.select(resume_links).where(
        resume_links.c.id == link_id, resume_links.c.flow_run_id == flow_run_id
    )
    if tx.dialect.name == "postgresql":
        query = query.with_for_update()
    link = (await tx.execute(query)).first()
    if link is None:
        raise NotFound("this link's flow run no longer exists; ask for a new link")
    found = await describe(tx, link)
    if found["status"] != "open":
        raise LinkUnusable(found)
    return link


async def mark_used(tx: Tx, link: Any, *, remote: str | None) -> None:
    now = utcnow()
    await tx.execute(
        resume_links.update()
        .where(resume_links.c.id == link.id)
        .values(used_at=now, used_from=remote)
    )
    await events.record(
        tx,
        EventKind.LINK_USED,
        actor=f"link:{link.recipient}",
        flow_run_id=link.flow_run_id,
        remote=remote,
        details={"link_id": link.id, "recipient": link.recipient, "pause_key": link.pause_key},
    )


async def answerer_for(conn: Connection, recipient: str, made_by: Answerer | None) -> Answerer:
    """A link's answerer for the pause rules: `link:<recipient>`, matched as the user it names,
    and judged with its maker (`made_by`, see `maker`; None for an automation's link).

    A link is made by someone allowed to make links (an operator, an admin, or an admin's
    automation), so it carries an operator's standing to answer an unassigned pause; assignees
    and self-approval still bind the recipient, as they would bind that person signed in, and
    bind its maker too: a link is never worth more than the standing of whoever made it.
    """
    user = await users.user_for_recipient(conn, recipient)
    return Answerer(
        f"link:{recipient}",
        user["name"] if user else None,
        tuple(user["groups"]) if user else (),
        "operator",
        made_by,
    )


def made_by_system(created_by: str | None) -> bool:
    """Whether a link was made by the server itself (an automation), not by a person."""
    return created_by is not None and created_by.startswith(AUTOMATION_PREFIX)


async def maker(conn: Connection, created_by: str | None) -> Answerer | None:
    """Who made a link, as the pause rules judge them now (a demoted or disabled maker's links
    lose their standing with them); None for an automation's link.

    `created_by` is the maker's actor: a user's name, `api-key` or `local:<name>` (both admins,
    as the identity layer makes them), or `automation:<name>`. A maker who is none of these any
    more (a user since deleted or disabled) has no standing: role `none`.
    """
    if made_by_system(created_by):
        return None
    if created_by is None:
        return Answerer("an unknown maker", None, (), "none")
    if created_by == "api-key" or created_by.startswith("local:"):
        return Answerer(created_by, None, (), "admin")
    user = await users.user_for_recipient(conn, created_by)
    if user is None or user["name"] != created_by:
        return Answerer(created_by, None, (), "none")
    return Answerer(created_by, created_by, tuple(user["groups"]), user["role"])
