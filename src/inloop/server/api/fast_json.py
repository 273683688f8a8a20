"""JSON responses serialized once by pydantic, skipping FastAPI's re-validation of return values.

Used on the hot paths (sending, filtering and waiting for inputs, reading and waiting for runs),
where each request's overhead is a share of the latency a person or a flow waits for.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import Response
from pydantic import TypeAdapter

__all__ = ["json_response"]

_adapters: dict[Any, TypeAdapter[Any]] = {}


def json_response(value: Any, annotation: Any, status_code: int = 200) -> Response:
    adapter = _adapters.get(annotation)
    if adapter is None:
        adapter = _adapters[annotation] = TypeAdapter(annotation)
    return Response(
        content=adapter.dump_json(value), media_type="application/json", status_code=status_code
    )
