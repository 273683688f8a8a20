"""Sign-in throttling: after a few failed passwords, an account or an address must wait.

Two counts, each with its own allowance of free failures, then a wait that doubles with every
further failure (capped), measured from the latest failure:

- per account (the typed name, whether or not such a user exists, so the answers tell nothing
  about which names are real): counted from the `session.sign-in-failed` events, so every
  replica sees the same failures and a restart forgets none; a successful sign-in clears it.
- per client address: counted in this process's memory. An address guessing across many names
  is cut off without a database write per guess; an attacker spreading over replicas gets each
  replica's allowance, which is still a handful of guesses per window.

A refused attempt does not count as a further failure (no password was checked), so the owner
can sign in as soon as the wait is over.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from inloop.server.errors import TooManyRequests
from inloop.settings import Settings

__all__ = ["AddressFailures", "Backoff"]

# Addresses remembered at most (the least recently failing are forgotten first), and failures
# kept per address: past the allowance the wait is soon at its cap anyway.
MAX_ADDRESSES = 10_000
MAX_KEPT = 64


@dataclass(frozen=True)
class Backoff:
    free: int
    base: float
    cap: float
    window: float

    @classmethod
    def for_accounts(cls, settings: Settings) -> Backoff:
        return cls(
            settings.signin_account_failures, settings.signin_backoff_seconds,
            settings.signin_backoff_max_seconds, settings.signin_window_seconds,
        )

    @classmethod
    def for_addresses(cls, settings: Settings) -> Backoff:
        return cls(
            settings.signin_address_failures, settings.signin_backoff_seconds,
            settings.signin_backoff_max_seconds, settings.signin_window_seconds,
        )

    def lock_seconds(self, failures: int) -> float:
        """How long to wait after the latest of `failures` recent failures."""
        if failures < self.free:
            return 0.0
        return min(self.cap, self.base * 2.0 ** min(failures - self.free, 30))

    def check_account(
        self, name: str, failures: int, latest: datetime | None, now: datetime
    ) -> None:
        """A 429 when account `name`, with `failures` since the window began, must still wait."""
        if latest is None:
            return
        until = latest + timedelta(seconds=self.lock_seconds(failures))
        if until > now:
            raise TooManyRequests(
                f"too many failed sign-ins for {name!r} ({failures} in the last "
                f"{_span(self.window)}); try again after {until:%H:%M:%S} UTC "
                f"(in {_span((until - now).total_seconds())}), or ask an admin to reset the "
                "password",
                (until - now).total_seconds(),
            )


class AddressFailures:
    """Recent failed sign-ins per client address, in this process (see the module doc)."""

    def __init__(self, backoff: Backoff) -> None:
        self._backoff = backoff
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, address: str, now: float) -> deque[float] | None:
        kept = self._failures.get(address)
        if kept is None:
            return None
        while kept and kept[0] <= now - self._backoff.window:
            kept.popleft()
        if not kept:
            del self._failures[address]
            return None
        return kept

    def check(self, address: str | None) -> None:
        """A 429 when `address` must still wait."""
        if address is None:
            return
        now = time.monotonic()
        kept = self._recent(address, now)
        if kept is None:
            return
        wait = kept[-1] + self._backoff.lock_seconds(len(kept)) - now
        if wait > 0:
            raise TooManyRequests(
                f"too many failed sign-ins from {address} ({len(kept)} in the last "
                f"{_span(self._backoff.window)}); try again in {_span(wait)}",
                wait,
            )

    def failed(self, address: str | None) -> None:
        if address is None:
            return
        now = time.monotonic()
        kept = self._recent(address, now) or deque(maxlen=MAX_KEPT)
        kept.append(now)
        self._failures[address] = kept
        self._failures.move_to_end(address)
        while len(self._failures) > MAX_ADDRESSES:
            self._failures.popitem(last=False)


def _span(seconds: float) -> str:
    whole = max(1, math.ceil(seconds))
    if whole < 120:
        return f"{whole} s"
    if whole < 7200:
        return f"{math.ceil(whole / 60)} min"
    return f"{math.ceil(whole / 3600)} h"
