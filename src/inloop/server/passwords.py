"""Password hashing and checking, off the event loop and a few at a time.

An argon2id check costs a few tenths of a second of CPU by design. Run on the event loop it
stalls every request; run without a bound, a handful of anonymous clients guessing passwords
take every core. So checks run in worker threads (argon2 releases the GIL), at most
`concurrency` at once per server process, with at most `queue` more waiting: past that a
sign-in is a 429 at once, before any hashing.
"""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass

import anyio
import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from inloop.server.errors import TooManyRequests

__all__ = ["Checked", "PasswordChecks", "check_password", "hash_password"]

_hasher = PasswordHasher()
BUSY_RETRY_SECONDS = 2


@functools.cache
def _dummy_hash() -> str:
    """Checked against when the user is unknown or has no password, so a wrong name costs as
    long as a wrong password (no oracle for which names exist). Made on first use: an argon2
    hash at import would slow every start."""
    return _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class Checked:
    ok: bool
    # A new hash of the same password when the stored one uses weaker parameters than today's.
    rehashed: str | None = None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(stored: str | None, password: str) -> Checked:
    """Whether `password` matches `stored` (None: never, at the same cost). Blocking."""
    try:
        _hasher.verify(stored or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return Checked(ok=False)
    if stored is None:
        return Checked(ok=False)
    rehashed = _hasher.hash(password) if _hasher.check_needs_rehash(stored) else None
    return Checked(ok=True, rehashed=rehashed)


class PasswordChecks:
    """Hash and check passwords in worker threads, `concurrency` at a time (made per app, in
    its lifespan: a limiter belongs to the event loop that made it)."""

    def __init__(self, concurrency: int, queue: int) -> None:
        self._limiter = anyio.CapacityLimiter(concurrency)
        self._queue = queue

    def _admit(self) -> None:
        if self._limiter.statistics().tasks_waiting >= self._queue:
            raise TooManyRequests(
                f"the server is checking too many passwords at once ({self._queue} waiting); "
                f"try again in {BUSY_RETRY_SECONDS} s",
                BUSY_RETRY_SECONDS,
            )

    async def check(self, stored: str | None, password: str) -> Checked:
        self._admit()
        return await anyio.to_thread.run_sync(
            check_password, stored, password, limiter=self._limiter
        )

    async def hash(self, password: str) -> str:
        self._admit()
        return await anyio.to_thread.run_sync(hash_password, password, limiter=self._limiter)
