"""Errors the stores raise; the app turns each into one HTTP status with a JSON `detail`."""

from __future__ import annotations

from typing import Any

__all__ = ["Conflict", "Invalid", "NotFound", "ServerError"]


class ServerError(Exception):
    status_code = 500

    def __init__(self, detail: Any) -> None:
        super().__init__(detail if isinstance(detail, str) else repr(detail))
        self.detail = detail


class NotFound(ServerError):
    status_code = 404


class Conflict(ServerError):
    status_code = 409


class Invalid(ServerError):
    """422; `detail` is a list of {"loc", "msg", "type"} like FastAPI's own validation errors."""

    status_code = 422
