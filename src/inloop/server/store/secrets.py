"""Server secrets: created once per database, then read by every replica that serves it."""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from inloop.server.database.engine import Tx
from inloop.server.database.schema import server_secrets, utcnow

__all__ = ["SIGNING_KEY", "get_or_create_secret"]

# The one key the server signs with; each use (run tokens, later resume links) adds its own
# salt, so a signature made for one use is never valid for another.
SIGNING_KEY = "signing-key"


async def get_or_create_secret(tx: Tx, name: str) -> str:
    """The secret called `name`, made (256 random bits) by whichever replica asks first."""
    insert = sqlite.insert if tx.dialect.name == "sqlite" else postgresql.insert
    # Replicas starting together may race here: the first insert wins, the others keep it.
    await tx.execute(
        insert(server_secrets)
        .values(name=name, value=secrets.token_urlsafe(32), created=utcnow())
        .on_conflict_do_nothing(index_elements=["name"])
    )
    value: str = (
        await tx.execute(sa.select(server_secrets.c.value).where(server_secrets.c.name == name))
    ).scalar_one()
    return value
