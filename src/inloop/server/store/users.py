"""All reads and writes of people: users, their API tokens and their UI sessions.

Secrets never reach a row: a password is kept as its argon2id hash (made and checked off the
event loop, by inloop.server.passwords), a token or a session id (256 random bits, nothing to
guess) as its SHA-256.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from inloop.server.database.engine import Connection, Tx
from inloop.server.database.schema import api_tokens, sessions, users, utcnow
from inloop.server.errors import Conflict, NotFound

__all__ = [
    "CHANGED",
    "TOKEN_PREFIX",
    "bind_subject",
    "create_session",
    "create_token",
    "create_user",
    "delete_session",
    "has_users",
    "list_tokens",
    "list_users",
    "password_hash",
    "password_sign_in",
    "read_token",
    "require_user",
    "revoke_token",
    "session_user",
    "set_password",
    "sso_user",
    "token_user",
    "touch_token",
    "update_user",
    "user_for_recipient",
]

# The notification topic of any change to who a token speaks for (role, groups, disabled, revoked).
CHANGED = "identity"
# Recognisable in logs and by secret scanners; the server never needs the prefix to verify.
TOKEN_PREFIX = "inl_"
# A token's last-used time is written at most this often: not a write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)

def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _user(row: Any) -> dict[str, Any]:
    return {
        "name": row.name,
        "email": row.email,
        "role": row.role,
        "groups": list(row.groups or []),
        "has_password": row.password_hash is not None,
        "disabled": bool(row.disabled),
        "created": row.created,
        "sso": row.oidc_subject is not None,
    }


def _token(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "user": row.user_name,
        "name": row.name,
        "expires": row.expires,
        "last_used": row.last_used,
        "revoked": row.revoked,
        "created": row.created,
    }


async def has_users(conn: Connection) -> bool:
    return (await conn.execute(sa.select(users.c.name).limit(1))).first() is not None


async def create_user(
    tx: Tx,
    name: str,
    role: str,
    groups: list[str],
    email: str | None,
    password_hash: str | None,
) -> dict[str, Any]:
    exists = (await tx.execute(sa.select(users.c.name).where(users.c.name == name))).first()
    if exists is not None:
        raise Conflict(f"a user named {name!r} already exists; pick another name")
    await tx.execute(
        users.insert().values(
            name=name,
            email=email,
            role=role,
            groups=groups,
            password_hash=password_hash,
            disabled=False,
            created=utcnow(),
        )
    )
    return await require_user(tx, name)


async def require_user(conn: Connection, name: str) -> dict[str, Any]:
    row = (await conn.execute(sa.select(users).where(users.c.name == name))).first()
    if row is None:
        raise NotFound(f"no user named {name!r}; list users with `inloop user ls`")
    return _user(row)


async def user_for_recipient(conn: Connection, recipient: str) -> dict[str, Any] | None:
    """The enabled user a resume link's recipient names: by user name, else by a unique email."""
    row = (await conn.execute(sa.select(users).where(users.c.name == recipient))).first()
    if row is None and "@" in recipient:
        found = (
            await conn.execute(
                sa.select(users).where(sa.func.lower(users.c.email) == recipient.lower()).limit(2)
            )
        ).all()
        row = found[0] if len(found) == 1 else None
    if row is None or row.disabled:
        return None
    return _user(row)


async def list_users(conn: Connection) -> list[dict[str, Any]]:
    rows = (await conn.execute(sa.select(users).order_by(users.c.name))).all()
    return [_user(row) for row in rows]


async def update_user(tx: Tx, name: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Apply `changes` (role, groups, email, disabled) to an existing user; a password is
    changed by `set_password`."""
    tx.notify(CHANGED)  # token caches on every replica forget what they knew
    await require_user(tx, name)
    if changes:
        await tx.execute(users.update().where(users.c.name == name).values(**changes))
    if changes.get("disabled"):
        # A disabled user is signed out everywhere at once.
        await tx.execute(sessions.delete().where(sessions.c.user_name == name))
    return await require_user(tx, name)


async def set_password(
    tx: Tx,
    name: str,
    password_hash: str | None,
    *,
    keep_session: str | None = None,
    revoke_tokens: bool = False,
) -> dict[str, int]:
    """Give `name` a new password (its hash; None: no password) and end their sessions but
    `keep_session` (the id of the session that made the change, if it is theirs): whoever knew
    the old password is signed out. Their API tokens stay unless `revoke_tokens`.

    What it did: {"sessions_ended", "tokens_revoked", "tokens_kept"} (live tokens only).
    """
    tx.notify(CHANGED)  # token caches on every replica forget revoked tokens
    await require_user(tx, name)
    await tx.execute(
        users.update().where(users.c.name == name).values(password_hash=password_hash)
    )
    ended = sessions.delete().where(sessions.c.user_name == name)
    if keep_session is not None:
        ended = ended.where(sessions.c.hash != digest(keep_session))
    sessions_ended = (await tx.execute(ended)).rowcount or 0
    now = utcnow()
    live = sa.and_(
        api_tokens.c.user_name == name,
        api_tokens.c.revoked.is_(None),
        sa.or_(api_tokens.c.expires.is_(None), api_tokens.c.expires > now),
    )
    tokens_revoked = 0
    if revoke_tokens:
        tokens_revoked = (
            await tx.execute(api_tokens.update().where(live).values(revoked=now))
        ).rowcount or 0
    tokens_kept = (
        await tx.execute(sa.select(sa.func.count()).select_from(api_tokens).where(live))
    ).scalar_one()
    return {
        "sessions_ended": sessions_ended,
        "tokens_revoked": tokens_revoked,
        "tokens_kept": int(tokens_kept),
    }


async def password_hash(conn: Connection, name: str) -> str | None:
    """The password hash to check a sign-in as `name` against: None when there is no such
    user, they are disabled or have no password (the caller checks a dummy hash instead, so
    every refusal costs the same)."""
    row = (
        await conn.execute(
            sa.select(users.c.password_hash, users.c.disabled).where(users.c.name == name)
        )
    ).first()
    if row is None or row.disabled:
        return None
    return row.password_hash  # type: ignore[no-any-return]


async def password_sign_in(
    tx: Tx, name: str, checked: str, rehashed: str | None
) -> dict[str, Any] | None:
    """The user whose password hash `checked` matched, if it is still theirs and they are still
    enabled (both may have changed while the password was checked); stores `rehashed` (the same
    password under today's parameters) when given."""
    row = (await tx.execute(sa.select(users).where(users.c.name == name))).first()
    if row is None or row.disabled or row.password_hash != checked:
        return None
    if rehashed is not None:
        await tx.execute(
            users.update().where(users.c.name == name).values(password_hash=rehashed)
        )
    return _user(row)


async def sso_user(
    tx: Tx,
    subject: str,
    candidates: list[str],
    email: str | None,
    groups: list[str],
    default_role: str,
    link_by_email: bool = False,
) -> tuple[dict[str, Any], bool]:
    """The user an SSO sign-in is for, with `groups` as their groups: (user, created).

    Bound by the subject ("<issuer> <sub>") only: a name the provider sends never makes
    someone an existing local user (a provider account called `boss` is not the local admin
    `boss`). An unbound existing user is matched only by `email` (which the caller passes only
    when the provider verified it) and only with `link_by_email` (INLOOP_OIDC_LINK_BY_EMAIL),
    only when exactly one user has it, and never a user with a password: an admin links those
    explicitly (`inloop user link-sso`, see bind_subject). Otherwise a new user with
    `default_role`, named after the first candidate (see _free_name). The caller refuses
    disabled users.
    """
    tx.notify(CHANGED)  # groups change: token caches on every replica forget them
    row = (await tx.execute(sa.select(users).where(users.c.oidc_subject == subject))).first()
    if row is None and link_by_email and email is not None:
        found = (await tx.execute(
            sa.select(users).where(
                sa.func.lower(users.c.email) == email.lower(),
                users.c.oidc_subject.is_(None),
            ).limit(2)
        )).all()
        # Two users share it: match neither. A password holder: only an admin links them.
        if len(found) == 1 and found[0].password_hash is None:
            row = found[0]
    if row is None:
        name = await _free_name(tx, subject, candidates)
        await tx.execute(
            users.insert().values(
                name=name, email=email, role=default_role, groups=groups,
                password_hash=None, disabled=False, created=utcnow(), oidc_subject=subject,
            )
        )
        return await require_user(tx, name), True
    values: dict[str, Any] = {"groups": groups, "oidc_subject": subject}
    if email is not None and row.email is None:
        values["email"] = email
    await tx.execute(users.update().where(users.c.name == row.name).values(**values))
    return await require_user(tx, row.name), False


async def _free_name(tx: Tx, subject: str, candidates: list[str]) -> str:
    """A new SSO user's name: the first usable claim (the provider's preferred_username, else
    the verified email, else the bare `sub`); when a user already has that name, the name with
    '-' and six hex digits of the subject's hash (`boss-3f9a1c`): the same at every sign-in,
    visibly not the local `boss`, and never another claim that could be someone's address."""
    if not candidates:
        raise Conflict(
            "no name for this SSO user: the provider sent no usable preferred_username, "
            "email or sub; an admin can add the user (`inloop user add`) and link them "
            "(`inloop user link-sso NAME --subject SUB`)"
        )
    names = [candidates[0], f"{candidates[0][:93]}-{digest(subject)[:6]}"]
    taken = set((await tx.execute(
        sa.select(users.c.name).where(users.c.name.in_(names))
    )).scalars())
    free = [name for name in names if name not in taken]
    if not free:
        raise Conflict(
            f"no name for this SSO user: {' and '.join(names)} are both taken; an admin can "
            "add the user under another name and link them (`inloop user link-sso NAME "
            "--subject SUB`)"
        )
    return free[0]


async def bind_subject(tx: Tx, name: str, subject: str | None) -> dict[str, Any]:
    """An admin's explicit link of a user to an SSO subject (None: unlink); the only way a
    user with a password signs in with SSO. Conflict when another user has the subject."""
    tx.notify(CHANGED)
    await require_user(tx, name)
    if subject is not None:
        holder = (await tx.execute(
            sa.select(users.c.name).where(users.c.oidc_subject == subject)
        )).scalar()
        if holder is not None and holder != name:
            raise Conflict(
                f"SSO subject {subject!r} is already linked to user {holder!r}; unlink it "
                f"there first (`inloop user link-sso {holder} --unlink`)"
            )
    await tx.execute(users.update().where(users.c.name == name).values(oidc_subject=subject))
    return await require_user(tx, name)


# --- tokens --------------------------------------------------------------------------------------


async def create_token(
    tx: Tx, user: str, name: str, expires: datetime | None
) -> tuple[dict[str, Any], str]:
    """A new token for `user`: its row and its secret (shown once, never stored)."""
    await require_user(tx, user)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = str(uuid.uuid4())
    await tx.execute(
        api_tokens.insert().values(
            id=token_id, user_name=user, name=name, hash=digest(secret), expires=expires,
            created=utcnow(),
        )
    )
    return await read_token(tx, token_id), secret


async def read_token(conn: Connection, token_id: str) -> dict[str, Any]:
    row = (await conn.execute(sa.select(api_tokens).where(api_tokens.c.id == token_id))).first()
    if row is None:
        raise NotFound(f"no API token with id {token_id!r}; list tokens with `inloop token ls`")
    return _token(row)


async def list_tokens(conn: Connection, user: str | None) -> list[dict[str, Any]]:
    query = sa.select(api_tokens).order_by(api_tokens.c.created)
    if user is not None:
        query = query.where(api_tokens.c.user_name == user)
    return [_token(row) for row in (await conn.execute(query)).all()]


async def revoke_token(tx: Tx, token_id: str) -> dict[str, Any]:
    tx.notify(CHANGED)  # token caches on every replica forget what they knew
    await read_token(tx, token_id)
    await tx.execute(
        api_tokens.update()
        .where(api_tokens.c.id == token_id, api_tokens.c.revoked.is_(None))
        .values(revoked=utcnow())
    )
    return await read_token(tx, token_id)


async def token_user(
    conn: Connection, secret: str
) -> tuple[dict[str, Any] | None, str, str | None]:
    """Who a bearer token belongs to: (user, "", id) or (None, why it was refused, None).

    The id comes back when the token's last-used time is due for an update (`touch_token`):
    a read per request, a write at most once a minute.
    """
    # One query for the token and its user: this runs on every token-authenticated request.
    query = (
        sa.select(
            api_tokens,
            users.c.disabled,
            users.c.email,
            users.c.role,
            users.c.groups,
            users.c.password_hash,
            users.c.oidc_subject,
            users.c.created.label("user_created"),
        )
        .join(users, users.c.name == api_tokens.c.user_name)
        .where(api_tokens.c.hash == digest(secret))
    )
    row = (await conn.execute(query)).first()
    now = utcnow()
    if row is None:
        return None, "unknown token", None
    if row.revoked is not None:
        return None, f"token {row.id} ({row.name!r}) was revoked", None
    if row.expires is not None and row.expires <= now:
        return None, f"token {row.id} ({row.name!r}) expired at {row.expires.isoformat()}", None
    if row.disabled:
        return None, f"user {row.user_name!r} is disabled", None
    due = row.last_used is None or now - row.last_used >= LAST_USED_RESOLUTION
    user = {
        "name": row.user_name,
        "email": row.email,
        "role": row.role,
        "groups": list(row.groups or []),
        "has_password": row.password_hash is not None,
        "disabled": False,
        "created": row.user_created,
        "sso": row.oidc_subject is not None,
        "token_expires": row.expires,
    }
    return user, "", row.id if due else None


async def touch_token(tx: Tx, token_id: str) -> None:
    await tx.execute(
        api_tokens.update().where(api_tokens.c.id == token_id).values(last_used=utcnow())
    )


# --- sessions ------------------------------------------------------------------------------------


async def create_session(tx: Tx, user: str, lifetime: timedelta) -> tuple[str, datetime]:
    """A new session for `user`: the id for the cookie, and when it expires."""
    session_id = secrets.token_urlsafe(32)
    now = utcnow()
    expires = now + lifetime
    # Sweep this user's expired sessions here rather than in a background job.
    await tx.execute(
        sessions.delete().where(sessions.c.user_name == user, sessions.c.expires <= now)
    )
    await tx.execute(
        sessions.insert().values(
            hash=digest(session_id), user_name=user, expires=expires, created=now
        )
    )
    return session_id, expires


async def session_user(conn: Connection, session_id: str) -> dict[str, Any] | None:
    """The signed-in user of a live session; None when unknown, expired or disabled."""
    query = (
        sa.select(users)
        .join(sessions, sessions.c.user_name == users.c.name)
        .where(sessions.c.hash == digest(session_id), sessions.c.expires > utcnow())
    )
    row = (await conn.execute(query)).first()
    if row is None or row.disabled:
        return None
    return _user(row)


async def delete_session(tx: Tx, session_id: str) -> str | None:
    """End a session; the name of its user, or None when there was no such session."""
    condition = sessions.c.hash == digest(session_id)
    owner = (await tx.execute(sa.select(sessions.c.user_name).where(condition))).scalar()
    await tx.execute(sessions.delete().where(condition))
    return owner
