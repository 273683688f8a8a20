"""SSO sign-ins under way: what the callback needs to finish one (nonce, PKCE verifier).

A row lives from the redirect to the provider until the browser comes back, at most
LOGIN_LIFETIME; the callback takes it (reads and deletes it), so each `state` works once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from inloop.server.database.engine import Tx
from inloop.server.database.schema import oidc_logins, utcnow
from inloop.server.store.users import digest

__all__ = ["LOGIN_LIFETIME", "MAX_PENDING_LOGINS", "TooManyLogins", "start_login", "take_login"]

LOGIN_LIFETIME = timedelta(minutes=10)
# Starting a sign-in is public and writes a row: a bound keeps a flood of starts from growing
# the table without limit (far above what real people start in LOGIN_LIFETIME).
MAX_PENDING_LOGINS = 10_000


class TooManyLogins(Exception):
    """MAX_PENDING_LOGINS sign-ins are under way; the oldest frees a place when it expires."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


async def start_login(
    tx: Tx, state: str, nonce: str, code_verifier: str, next_path: str
) -> None:
    now = utcnow()
    # Sweep abandoned sign-ins here rather than in a background job.
    await tx.execute(oidc_logins.delete().where(oidc_logins.c.expires <= now))
    found: Any = (
        await tx.execute(sa.select(sa.func.count(), sa.func.min(oidc_logins.c.expires)))
    ).one()
    pending, oldest = found[0], found[1]
    if pending >= MAX_PENDING_LOGINS:
        raise TooManyLogins(max(1, int((oldest - now).total_seconds()) + 1))
    await tx.execute(
        oidc_logins.insert().values(
            state_hash=digest(state), nonce=nonce, code_verifier=code_verifier,
            next_path=next_path, expires=now + LOGIN_LIFETIME,
        )
    )


async def take_login(tx: Tx, state: str) -> dict[str, Any] | None:
    """The sign-in this `state` started, removed; None when unknown, used or expired."""
    condition = oidc_logins.c.state_hash == digest(state)
    row = (await tx.execute(sa.select(oidc_logins).where(condition))).first()
    if row is None:
        return None
    deleted = await tx.execute(oidc_logins.delete().where(condition))
    # Two callbacks racing with one state: only the one that deleted the row goes on.
    if deleted.rowcount != 1 or row.expires <= utcnow():
        return None
    return {"nonce": row.nonce, "code_verifier": row.code_verifier, "next_path": row.next_path}
