"""The client's request path imports nothing: every module it needs is loaded once.

A failed import is not cached, so a library that tries an optional module on every request
(httpcore tries `sniffio`) searches the import path each time; this test catches any such search.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any


class ImportSpy(importlib.abc.MetaPathFinder):
    """Records every module name the import system searches for, and finds nothing itself."""

    def __init__(self) -> None:
        self.searched: list[str] = []

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        self.searched.append(fullname)
        return None


def test_requests_search_for_no_module(client: Any) -> None:
    run = client.create_flow_run("hot-path")
    client.read_flow_run(run.id)  # the first request loads what the path needs
    spy = ImportSpy()
    sys.meta_path.insert(0, spy)
    try:
        for _ in range(5):
            client.read_flow_run(run.id)
            client.health()
    finally:
        sys.meta_path.remove(spy)
    assert spy.searched == [], f"imports searched on every request: {sorted(set(spy.searched))}"
