"""Pydantic models shared by the client and the server: what travels over HTTP."""

from __future__ import annotations

import enum
import re
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "BlockDocument",
    "Deployment",
    "DeploymentCreate",
    "Event",
    "FlowRun",
    "FlowRunCreate",
    "FlowRunInput",
    "FlowRunWithToken",
    "InboxItem",
    "InputCreate",
    "InputFilter",
    "LogCreate",
    "LogRecord",
    "PauseDetails",
    "PauseRequest",
    "ResumeRequest",
    "SetStateRequest",
    "State",
    "StateType",
]


# Input keys (and pause keys) are lowercase letters, digits and "-" only.
INPUT_KEY_PATTERN = re.compile(r"^[a-z0-9-]+$")


class StateType(enum.StrEnum):
    SCHEDULED = "SCHEDULED"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    SUSPENDED = "SUSPENDED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CRASHED = "CRASHED"
    CANCELLED = "CANCELLED"

    @property
    def display_name(self) -> str:
        return self.value.capitalize()


FINAL_STATES = frozenset(
    {StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED}
)
WAITING_STATES = frozenset({StateType.PAUSED, StateType.SUSPENDED})


class State(BaseModel):
    type: StateType
    name: str
    message: str | None = None
    timestamp: datetime | None = None
    details: dict[str, Any] = Field(default_factory=dict)

    def is_scheduled(self) -> bool:
        return self.type is StateType.SCHEDULED

    def is_pending(self) -> bool:
        return self.type is StateType.PENDING

    def is_running(self) -> bool:
        return self.type is StateType.RUNNING

    def is_paused(self) -> bool:
        return self.type is StateType.PAUSED

    def is_suspended(self) -> bool:
        return self.type is StateType.SUSPENDED

    def is_completed(self) -> bool:
        return self.type is StateType.COMPLETED

    def is_failed(self) -> bool:
        return self.type is StateType.FAILED

    def is_crashed(self) -> bool:
        return self.type is StateType.CRASHED

    def is_cancelled(self) -> bool:
        return self.type is StateType.CANCELLED

    def is_final(self) -> bool:
        return self.type in FINAL_STATES


class PauseDetails(BaseModel):
    key: str
    deadline: datetime | None = None
    reschedule: bool = False
    has_input: bool = False
    description: str | None = None


class FlowRun(BaseModel):
    id: UUID
    name: str
    flow_id: UUID
    flow_name: str
    deployment_id: UUID | None = None
    deployment_name: str | None = None
    parent_flow_run_id: UUID | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    state: State
    state_seq: int = 0
    created: datetime
    updated: datetime
    start_time: datetime | None = None
    end_time: datetime | None = None
    pause: PauseDetails | None = None


class FlowRunWithToken(FlowRun):
    """A run as given to the process that will execute it: with its run token.

    Only creating a run and a runner claiming one answer with this; the process sends the
    token back in the X-Inloop-Run-Token header (see inloop.server.run_tokens).
    """

    run_token: str = Field(repr=False)


class FlowRunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flow_name: str = Field(min_length=1, max_length=200)
    parameters: dict[str, Any] = Field(default_factory=dict)
    state: StateType = StateType.PENDING
    parent_flow_run_id: UUID | None = None
    name: str | None = Field(default=None, max_length=200)


class SetStateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: StateType
    message: str | None = Field(default=None, max_length=100_000)
    details: dict[str, Any] = Field(default_factory=dict)
    # Optimistic concurrency: when given, the transition applies only if the run's state_seq
    # still equals it (409 otherwise).
    expected_seq: int | None = None


class PauseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=200)
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    description: str | None = Field(default=None, max_length=1_000_000)
    timeout: float | None = Field(default=3600, ge=0)
    reschedule: bool = False


class ResumeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_input: dict[str, Any] | None = None


class InputCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=200)
    value: Any
    sender: str | None = Field(default=None, max_length=300)


class InputFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prefix: str | None = Field(default=None, max_length=200)
    after_seq: int = 0
    exclude_keys: list[str] = Field(default_factory=list)
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


class LogCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flow_run_id: UUID
    level: int
    logger: str = Field(max_length=300)
    message: str = Field(max_length=1_000_000)
    timestamp: datetime


class LogRecord(BaseModel):
    id: int
    flow_run_id: UUID
    level: int
    level_name: str
    logger: str
    message: str
    timestamp: datetime


class DeploymentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flow_name: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=200)
    entrypoint: str = Field(max_length=2000)
    parameter_schema: dict[str, Any] = Field(default_factory=dict)


class Deployment(BaseModel):
    id: UUID
    name: str
    flow_id: UUID
    flow_name: str
    full_name: str
    entrypoint: str
    parameter_schema: dict[str, Any] = Field(default_factory=dict)
    created: datetime
    last_polled: datetime | None = None
    # Computed when read: a runner claimed work within twice its poll interval (see
    # store.deployments.with_runner_status).
    runner_online: bool = False


class InboxItem(BaseModel):
    flow_run: FlowRun
    description_first_line: str | None = None
    waiting_since: datetime
    deadline: datetime | None = None


class BlockDocument(BaseModel):
    id: UUID
    block_type: str
    name: str
    value: Any
    created: datetime
    updated: datetime


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
