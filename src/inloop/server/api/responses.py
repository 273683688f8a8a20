"""The error responses each route declares in the OpenAPI document, all `{"detail": ...}`."""

from __future__ import annotations

from typing import Any

from inloop.schemas import ErrorDetail, InvalidDetail

__all__ = ["AUTH_ERROR", "errors"]


_DESCRIPTIONS = {
    401: "A credential (API key or run token) is missing or not genuine",
    403: "The credential may not do this; the detail names the rule",
    404: "No such flow run, deployment, input, block or task result",
    409: "The object is in the wrong state for this, or already exists",
    413: "The request body is larger than INLOOP_MAX_REQUEST_BYTES",
    422: "Invalid input; each error's `loc` names the field",
    429: "Too many attempts; Retry-After says how many seconds to wait",
}

# Added to every /api route when the server has an API key.
AUTH_ERROR: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorDetail, "description": "Missing or wrong `Authorization: Bearer` key"}
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route that can answer these error statuses."""
    return {
        code: {
            "model": InvalidDetail if code == 422 else ErrorDetail,
            "description": _DESCRIPTIONS[code],
        }
        for code in codes
    }
