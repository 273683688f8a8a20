"""The audit trail, one event at a time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

__all__ = ["Event"]


class Event(BaseModel):
    """One row of the audit trail: what happened, when, who did it (if a person or credential
    did), to which run, from where. `details` are small facts (a key, a sender, a size, a
    message), never an input's value."""

    id: int
    occurred: datetime
    kind: str
    actor: str | None = None
    flow_run_id: str | None = None
    # The run's name while the run still exists.
    flow_run_name: str | None = None
    remote: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
