"""Errors the stores raise; the app turns each into one HTTP status with a JSON `detail`."""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "Conflict",
    "Forbidden",
    "Invalid",
    "NotFound",
    "ServerError",
    "TooManyRequests",
    "Unauthorized",
]


class ServerError(Exception):
    status_code = 500
    # Extra response headers (a 429's Retry-After).
    headers: dict[str, str] = {}  # read-only; an instance replaces it

    def __init__(self, detail: Any) -> None:
        super().__init__(detail if isinstance(detail, str) else repr(detail))
        self.detail = detail


class Unauthorized(ServerError):
    """401: the request's credentials (a key or a token) are not valid."""

    status_code = 401


class Forbidden(ServerError):
    """403: the request is understood but a rule forbids it; the detail names the rule."""

    status_code = 403


class NotFound(ServerError):
    status_code = 404


class Conflict(ServerError):
    status_code = 409


class Invalid(ServerError):
    """422; `detail` is a list of {"loc", "msg", "type"} like FastAPI's own validation errors."""

    status_code = 422


class TooManyRequests(ServerError):
    """429: try again after `retry_after` seconds (sent as Retry-After); the detail says when."""

    status_code = 429

    def __init__(self, detail: str, retry_after: float) -> None:
        super().__init__(detail)
        self.retry_after = max(1, math.ceil(retry_after))
        self.headers = {"Retry-After": str(self.retry_after)}
