"""Log records a run sends, as stored and read back."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from inloop.bounds import Text, Timestamp

__all__ = ["LogCreate", "LogRecord", "Stored"]


class LogCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flow_run_id: UUID
    level: int = Field(ge=0, le=2**31 - 1)
    logger: Text = Field(max_length=300)
    message: Text = Field(max_length=1_000_000)
    timestamp: Timestamp


class LogRecord(BaseModel):
    id: int
    flow_run_id: UUID
    level: int
    level_name: str
    logger: str
    message: str
    timestamp: datetime


class Stored(BaseModel):
    stored: int
