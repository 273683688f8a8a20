"""`wait_for`, importable by name from any test module.

Not in conftest.py: with a conftest.py in several folders, `from conftest import ...` resolves to
whichever conftest was imported first, so shared helpers live in uniquely named modules.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

__all__ = ["wait_for"]

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 20, interval: float = 0.05) -> T:
    """Call `predicate` until it returns something truthy and return that; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            pytest.fail(f"condition not met within {timeout} s: {predicate!r} -> {result!r}")
        time.sleep(interval)
