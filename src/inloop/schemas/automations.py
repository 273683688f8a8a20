"""Automations as stored and applied, and the deliveries their actions make.

The spec a person writes (AutomationFile, AutomationSpec) lives in inloop.automations.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

__all__ = ["Applied", "Attempt", "Automation", "AutomationUpdate", "Delivery"]


class Automation(BaseModel):
    id: str
    name: str
    enabled: bool
    # The spec as applied (see inloop.automations.AutomationSpec), `enabled` kept in step.
    spec: dict[str, Any]
    # True when the reader may not change automations: URLs and secrets are shown as
    # "[redacted]" (only the service, or a web hook's host, is left).
    redacted: bool = False
    created: datetime
    updated: datetime


class Applied(BaseModel):
    name: str
    outcome: Literal["created", "updated", "unchanged"]
    automation: Automation


class AutomationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool

    @field_validator("enabled", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null: send true to switch it on, false to switch it off")
        return value


class Attempt(BaseModel):
    started: datetime
    duration_ms: int
    ok: bool
    error: str | None


class Delivery(BaseModel):
    id: str
    event_id: int | None
    event_kind: str
    flow_run_id: str | None
    flow_run_name: str | None
    # 0: when the event happened (or `after` it), 1..n: the n-th reminder, -1: the escalation.
    stage: int
    action_index: int
    target_index: int
    # The action's type in the current spec; None when the spec has changed since.
    action: str | None
    status: str
    due: datetime
    attempt_count: int
    last_error: str | None
    created: datetime
    finished: datetime | None
    # The latest tries first (at most server.store.automations.MAX_ATTEMPTS_SHOWN).
    attempts: list[Attempt]
