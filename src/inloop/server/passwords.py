"""Password hashing and checking, off the event loop and a few at a time.

An argon2id check costs a few tenths of a second of CPU by design (on several threads). Run on
the event loop it stalls every request; run without a bound, a handful of anonymous clients
guessing passwords take every core. So checks run in a few dedicated worker threads (argon2
releases the GIL) at a lower CPU priority, at most `concurrency` at once per server process,
with at most `queue` more waiting: past that a sign-in is a 429 at once, before any hashing.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import secrets
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from inloop.server.errors import TooManyRequests

__all__ = ["Checked", "PasswordChecks", "check_password", "hash_password"]

_hasher = PasswordHasher()
BUSY_RETRY_SECONDS = 2
WORKER_NICENESS = 10
T = TypeVar("T")


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


def _lower_priority() -> None:
    """Run this worker thread (and the threads argon2 starts from it, which inherit it) at a
    lower CPU priority: the event loop then keeps its share of the cores during a flood of
    checks. Linux only, where niceness is per thread."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICENESS)


class PasswordChecks:
    """Hash and check passwords in `concurrency` dedicated worker threads, with at most `queue`
    more waiting. Made per app in its lifespan and closed with it."""

    def __init__(self, concurrency: int, queue: int) -> None:
        self._workers = ThreadPoolExecutor(
            concurrency, thread_name_prefix="inloop-passwords", initializer=_lower_priority
        )
        self._capacity = concurrency + queue
        self._queue = queue
        self._pending = 0

    async def _run(self, fn: Callable[[], T]) -> T:
        if self._pending >= self._capacity:
            raise TooManyRequests(
                f"the server is checking too many passwords at once ({self._queue} waiting); "
                f"try again in {BUSY_RETRY_SECONDS} s",
                BUSY_RETRY_SECONDS,
            )
        self._pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._workers, fn)
        finally:
            self._pending -= 1

    async def check(self, stored: str | None, password: str) -> Checked:
        return await self._run(functools.partial(check_password, stored, password))

    async def hash(self, password: str) -> str:
        return await self._run(functools.partial(hash_password, password))

    def close(self) -> None:
        self._workers.shutdown(wait=False, cancel_futures=True)
