"""The inbox: paused runs waiting for a person, and how many there are."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from inloop.schemas.runs import FlowRun

__all__ = ["Count", "InboxItem"]


class InboxItem(BaseModel):
    flow_run: FlowRun
    description_first_line: str | None = None
    waiting_since: datetime
    deadline: datetime | None = None
    # Whether the caller may answer this pause (see inloop.server.access).
    can_answer: bool = True


class Count(BaseModel):
    count: int
