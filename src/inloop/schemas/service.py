"""What the service says about itself (health) and the error bodies every route may answer."""

from __future__ import annotations

from pydantic import BaseModel

__all__ = ["ErrorDetail", "FieldError", "Health", "InvalidDetail"]


class Health(BaseModel):
    status: str
    version: str
    database: str


class ErrorDetail(BaseModel):
    detail: str


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class InvalidDetail(BaseModel):
    detail: list[FieldError]
