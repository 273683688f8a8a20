"""Write the server's OpenAPI document (keys sorted, so the file only changes with the API).

    python scripts/openapi.py            refresh ui/openapi.json
    python scripts/openapi.py OUT        write it to OUT instead ("-": standard output)

The UI's TypeScript types, ui/src/api.gen.ts, are generated from ui/openapi.json by
`npm run gen:api` (which `npm run build` runs first); tests/unit/test_openapi_fresh.py fails
when the committed ui/openapi.json no longer matches the server.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "ui" / "openapi.json"


def document() -> str:
    """The document a server started with no settings at all serves at /api/openapi.json."""
    # Settings change the document (with an API key every route declares a 401): describe the
    # server as its defaults make it, whatever this shell has set.
    for name in [name for name in os.environ if name.startswith("INLOOP_")]:
        del os.environ[name]
    from inloop.server.app import create_app

    schema = create_app().openapi()
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(SNAPSHOT), help="a path, or - for stdout")
    out = parser.parse_args().out
    text = document()
    if out == "-":
        sys.stdout.write(text)
    else:
        Path(out).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
