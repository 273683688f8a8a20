"""Flow runs: their states, how they are created, moved between states, paused and resumed."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from inloop.assignees import check_assignees
from inloop.bounds import MAX_INT64, JsonObject, Text
from inloop.schemas.inputs import InputKey

__all__ = [
    "FINAL_STATES",
    "MAX_PAUSE_KEY_LENGTH",
    "MAX_PAUSE_TIMEOUT",
    "WAITING_STATES",
    "FlowRun",
    "FlowRunCreate",
    "FlowRunWithToken",
    "HeartbeatRequest",
    "HeartbeatResponse",
    "PauseDetails",
    "PauseRequest",
    "PauseView",
    "ResumeRequest",
    "SetStateRequest",
    "State",
    "StateType",
]

# A pause key names inputs `<key>-description` and friends, which must fit the 200-character
# key column too.
MAX_PAUSE_KEY_LENGTH = 200 - len("-description")
# Long enough for any human to answer; short enough that the deadline is a real date.
MAX_PAUSE_TIMEOUT = 100 * 365 * 24 * 3600.0


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
    validate_before_resume: bool = False
    # Who may answer (user names and `group:NAME`); empty: anyone whose role may resume.
    assignees: list[str] = Field(default_factory=list)
    # False: the run's `created_by` may not answer this pause.
    allow_self_approval: bool = True
    # At the deadline: "fail" (the seed's behaviour) or "defaults" (resumed with the defaults).
    on_timeout: Literal["fail", "defaults"] = "fail"


class PauseView(BaseModel):
    """What a waiting run asks for (GET /flow_runs/{id}/pause), and whether the caller may
    answer it."""

    key: str
    # The answer's JSON schema as the flow gave it; None when the pause takes no input.
    schema_: Any = Field(default=None, alias="schema", serialization_alias="schema")
    description: str | None = None
    deadline: datetime | None = None
    reschedule: bool = False
    on_timeout: Literal["fail", "defaults"] = "fail"
    assignees: list[str] = Field(default_factory=list)
    allow_self_approval: bool = True
    created_by: str | None = None
    # For the caller: whether the server would take their answer, and if not, the rule's words.
    can_answer: bool = True
    cannot_answer_because: str | None = None


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
    # The actor who started the run (for a deployment run: who asked the deployment to run it).
    created_by: str | None = None


class FlowRunWithToken(FlowRun):
    """A run as given to the process that will execute it: with its run token.

    Only creating a run and a runner claiming one answer with this; the process sends the
    token back in the X-Inloop-Run-Token header (see inloop.server.run_tokens).
    """

    run_token: str = Field(repr=False)


class FlowRunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flow_name: Text = Field(min_length=1, max_length=200)
    parameters: JsonObject = Field(default_factory=dict)
    state: StateType = StateType.PENDING
    parent_flow_run_id: UUID | None = None
    name: Text | None = Field(default=None, max_length=200)


class SetStateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: StateType
    message: Text | None = Field(default=None, max_length=100_000)
    details: JsonObject = Field(default_factory=dict)
    # Optimistic concurrency: when given, the transition applies only if the run's state_seq
    # still equals it (409 otherwise).
    expected_seq: int | None = Field(default=None, ge=0, le=MAX_INT64)


class PauseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: InputKey = Field(max_length=MAX_PAUSE_KEY_LENGTH)
    schema_: JsonObject | None = Field(default=None, alias="schema")
    description: Text | None = Field(default=None, max_length=1_000_000)
    timeout: float | None = Field(default=3600, ge=0, le=MAX_PAUSE_TIMEOUT)
    reschedule: bool = False
    # At the deadline: "fail" the run (the seed's behaviour), or have the server resume it with
    # `timeout_input` (the input model's defaults; taken from the schema when left out).
    on_timeout: Literal["fail", "defaults"] = "fail"
    timeout_input: JsonObject | None = None
    # Offer each resume to the paused flow's own validators first (a live pause only).
    validate_before_resume: bool = False
    assignees: Annotated[list[str] | None, AfterValidator(check_assignees)] = None
    allow_self_approval: bool = True


class ResumeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_input: JsonObject | None = None


class HeartbeatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[Annotated[Text, Field(max_length=100)]] = Field(max_length=10_000)
    runner_id: Text | None = Field(default=None, max_length=100)


class HeartbeatResponse(BaseModel):
    # Runs among `ids` that are no longer live (cancelled, crashed, ...): their process should stop.
    stopped: dict[str, StateType]
