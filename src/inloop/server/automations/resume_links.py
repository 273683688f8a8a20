"""A signed resume link per notified person: what `{{ resume_url }}` is in a notification.

Each notify target gets its own single-use link, made out to its recipient (the target's
`recipient`, else the address an email goes to, else the target's scheme), so the audit trail
says who answered (`link:alice@example.com`) and a forwarded mail cannot be used twice. The
link's id is the delivery's, so a retried delivery (a mail that may have gone out after all)
carries the same link instead of minting another one that would stay valid beside it. The
link is made only when the pause's rules would let that recipient answer; otherwise, and for a
run that no longer waits, the message points at the run's resume page, where the person signs
in and the rules decide as usual.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from inloop.schemas import FlowRun
from inloop.server.access import refusal
from inloop.server.automations.templates import resume_url_for
from inloop.server.database.engine import Database
from inloop.server.database.schema import utcnow
from inloop.server.errors import Conflict
from inloop.server.link_tokens import LinkTokens
from inloop.server.store import links, pauses, runs, users

__all__ = ["LINK_LIFETIME_SECONDS", "recipient_of", "resume_link_for"]

LINK_LIFETIME_SECONDS = 7 * 24 * 3600  # the API's default for a link made by hand


def recipient_of(url: str, recipient: str | None) -> str:
    """Who a notify target reaches: its declared recipient, else a mailto's `to`, else the
    scheme (never the URL itself: Apprise URLs carry passwords and tokens)."""
    if recipient:
        return recipient
    parts = urlsplit(url)
    if parts.scheme in ("mailto", "mailtos"):
        to = parse_qs(parts.query).get("to")
        if to and to[0]:
            return to[0].split(",")[0].strip()
    return f"{parts.scheme or 'notify'} notification"


async def resume_link_for(
    db: Database,
    tokens: LinkTokens | None,
    run: FlowRun,
    recipient: str,
    *,
    ui_url: str,
    created_by: str,
    link_id: str,
) -> str:
    """The signed link `link_id` for `recipient` to answer the run's current pause (made on
    the first call, the same one after), or the run's resume page when no link can (or
    should) be made."""
    fallback = resume_url_for(run, ui_url)
    if tokens is None or run.pause is None:
        return fallback
    try:
        async with db.transaction() as tx:
            current = await runs.read_run(tx, str(run.id))
            if current is None or current.pause is None:
                return fallback
            # Made by the server for an admin's automation, not by the run's starter: only
            # the recipient is judged (the link.created event says made_by_kind=automation).
            answerer = await links.answerer_for(tx, recipient, made_by=None)
            users_mode = await users.has_users(tx)
            if refusal(answerer, pauses.rules_of(current), users_mode=users_mode) is not None:
                return fallback
            made = await links.find_link(tx, link_id)
            if made is not None:
                # A retry: the same link while it still answers this pause, else the page.
                usable = (made.pause_key == current.pause.key and made.used_at is None
                          and made.expires_at > utcnow())
                return f"{ui_url.rstrip('/')}/r/{tokens.mint(link_id)}" if usable else fallback
            expires_in = float(LINK_LIFETIME_SECONDS)
            if current.pause.deadline is not None:
                left = (current.pause.deadline - utcnow()).total_seconds()
                expires_in = max(60.0, min(expires_in, left + 60))
            link = await links.create_link(
                tx, str(run.id), recipient=recipient[:300], expires_in=expires_in,
                created_by=created_by, link_id=link_id,
            )
    except Conflict:  # the run stopped waiting meanwhile
        return fallback
    return f"{ui_url.rstrip('/')}/r/{tokens.mint(link.id)}"
