"""Blocks (named JSON documents) and the results tasks store for their runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from inloop.bounds import JsonValue, Text

__all__ = ["BlockDocument", "BlockSave", "TaskResult", "TaskResultPut"]


class BlockDocument(BaseModel):
    id: UUID
    block_type: str
    name: str
    value: Any
    created: datetime
    updated: datetime


class BlockSave(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: JsonValue
    overwrite: bool = False


class TaskResultPut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task_name: Text = Field(min_length=1, max_length=200)
    result: JsonValue = None


class TaskResult(BaseModel):
    flow_run_id: str
    task_key: str
    task_name: str
    result: Any = None
    created: datetime
