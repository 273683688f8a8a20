"""`wait_for`, importable from any test module (`from tests.waiting import wait_for`).

Not in conftest.py: with a conftest.py in several folders, `from conftest import ...` resolves to
whichever conftest was imported first, so shared helpers live in uniquely named modules.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal, TypeVar

import pytest

__all__ = ["wait_for"]

T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T | Literal[False] | None], timeout: float = 20, interval: float = 0.05
) -> T:
    """Call `predicate` until it returns something truthy and return that; fail after `timeout`.

    Typed so that `wait_for(lambda: x and y)` and `wait_for(lambda: maybe_none())` give the truthy
    value's type: the `False` or `None` a predicate returns while waiting is never returned.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            pytest.fail(f"condition not met within {timeout} s: {predicate!r} -> {result!r}")
        time.sleep(interval)
