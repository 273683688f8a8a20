"""Resume offers: an answer held until the paused flow's own validators judge it."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from inloop.bounds import MAX_INT64, Text
from inloop.schemas.inputs import InputKey

__all__ = ["MAX_ERRORS", "Offer", "Rejection", "ValidationIssue", "Verdict"]

MAX_ERRORS = 50


LocPart = Annotated[Text, Field(max_length=200)] | Annotated[int, Field(ge=0, le=MAX_INT64)]


class ValidationIssue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Field names and list indexes inside the flow's model ([] for the whole answer).
    loc: list[LocPart] = Field(max_length=32)
    msg: Text = Field(max_length=2000)
    type: Text = Field(default="value_error", max_length=100)


class Verdict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Empty: the flow accepts the answer.
    errors: list[ValidationIssue] = Field(default_factory=list, max_length=MAX_ERRORS)


class Rejection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: InputKey
    errors: list[ValidationIssue] = Field(min_length=1, max_length=MAX_ERRORS)


class Offer(BaseModel):
    id: int
    value: Any = None
