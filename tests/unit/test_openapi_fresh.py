"""The committed OpenAPI snapshot (ui/openapi.json) is the server's document of today.

The UI's types (ui/src/api.gen.ts) are generated from that snapshot by `npm run build`, and
scripts/test checks the generated file is committed: together, a change to the API that is
not carried to the UI fails one or the other.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import inloop

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = ROOT / "ui" / "openapi.json"
REFRESH = "python scripts/openapi.py && (cd ui && npm run gen:api)"


def test_the_committed_openapi_snapshot_is_current() -> None:
    # A process of its own: the script ignores this shell's INLOOP_ settings by removing them
    # from its environment. PYTHONPATH first names the inloop under test.
    src = str(Path(inloop.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    fresh = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "openapi.py"), "-"],
        env=env, capture_output=True, text=True, check=True, timeout=120,
    ).stdout
    committed = SNAPSHOT.read_text(encoding="utf-8") if SNAPSHOT.exists() else ""
    assert fresh == committed, (
        f"{SNAPSHOT.relative_to(ROOT)} is not the server's OpenAPI document any more: run "
        f"`{REFRESH}` and commit ui/openapi.json and ui/src/api.gen.ts"
    )
