"""The sign-in throttle's arithmetic: free failures, then a doubling wait up to the cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from inloop.server.errors import TooManyRequests
from inloop.server.throttle import AddressFailures, Backoff

BACKOFF = Backoff(free=3, base=30, cap=900, window=3600)


def test_the_wait_doubles_after_the_free_failures_up_to_the_cap() -> None:
    assert [BACKOFF.lock_seconds(n) for n in range(8)] == [0, 0, 0, 30, 60, 120, 240, 480]
    assert BACKOFF.lock_seconds(9) == 900 and BACKOFF.lock_seconds(10_000) == 900


def test_an_account_waits_from_its_latest_failure() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    BACKOFF.check_account("olive", 2, now, now)  # still free
    BACKOFF.check_account("olive", 4, now - timedelta(seconds=61), now)  # waited its 60 s
    with pytest.raises(TooManyRequests) as refused:
        BACKOFF.check_account("olive", 4, now - timedelta(seconds=20), now)
    assert refused.value.headers == {"Retry-After": "40"}
    assert "try again after 12:00:40 UTC (in 40 s)" in str(refused.value.detail)


def test_an_address_waits_after_its_free_failures() -> None:
    addresses = AddressFailures(BACKOFF)
    for _ in range(3):
        addresses.check("10.0.0.1")
        addresses.failed("10.0.0.1")
    with pytest.raises(TooManyRequests) as refused:
        addresses.check("10.0.0.1")
    assert int(refused.value.headers["Retry-After"]) == 30
    addresses.check("10.0.0.2")  # another address is not held up
    addresses.check(None)  # nor a request without one
