"""Inputs sent to a run, the keys that name them, and the receive cursors that read them."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from inloop.bounds import Cursor, JsonValue, Text

__all__ = [
    "INPUT_KEY_PATTERN",
    "CursorPut",
    "FlowRunInput",
    "InputCreate",
    "InputFilter",
    "InputKey",
    "InputPrefix",
    "ReceiveCursor",
]

# Input keys (and pause keys) are lowercase letters, digits and "-" only.
INPUT_KEY_PATTERN = re.compile(r"^[a-z0-9-]+$")


def _input_key(key: str) -> str:
    if not INPUT_KEY_PATTERN.fullmatch(key):
        raise ValueError(
            f"invalid input key {key!r}: keys may contain only lowercase letters, digits and "
            "'-' (pattern ^[a-z0-9-]+$)"
        )
    return key


# The pattern is checked by `_input_key` (an error naming the key) and declared for OpenAPI.
InputKey = Annotated[
    str,
    Field(min_length=1, max_length=200, json_schema_extra={"pattern": INPUT_KEY_PATTERN.pattern}),
    AfterValidator(_input_key),
]
# A filter's prefix: a key, or empty for every key.
InputPrefix = Annotated[
    str,
    Field(max_length=200, json_schema_extra={"pattern": "^[a-z0-9-]*$"}),
    AfterValidator(lambda prefix: prefix and _input_key(prefix)),
]


class InputCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: InputKey
    value: JsonValue
    sender: Text | None = Field(default=None, max_length=300)


class InputFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prefix: InputPrefix | None = None
    after_seq: Cursor = 0
    # Bounded by what one SQL statement may bind on SQLite and PostgreSQL alike.
    exclude_keys: list[Annotated[Text, Field(max_length=200)]] = Field(
        default_factory=list, max_length=10_000
    )
    limit: int = Field(default=100, ge=1, le=1000)
    # Seconds to long-poll when nothing matches yet; 0 answers at once.
    wait: float = Field(default=0, ge=0, le=300)


class FlowRunInput(BaseModel):
    flow_run_id: UUID
    key: str
    value: Any
    sender: str | None = None
    created: datetime
    seq: int


class CursorPut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    after_seq: Cursor


class ReceiveCursor(BaseModel):
    flow_run_id: str
    name: str
    after_seq: int
