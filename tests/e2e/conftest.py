"""End-to-end fixtures. Helpers a test imports by name live in processes.py, never here.

  spawn   `spawn(path_or_source, *args, env=None, stdin=None, cwd=None)` -> a running Proc
          (processes.Spawner), killed with its run processes at teardown. The process gets
          this process's environment, so it talks to the active server: request `server`,
          `fresh_server` or `server_factory(activate=True)` for one, or pass `env`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.processes import Spawner


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Spawner]:
    spawner = Spawner(tmp_path)
    yield spawner
    spawner.close()
