"""Resume links: a signed URL that lets one recipient answer one pause."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from inloop.bounds import Text

__all__ = [
    "DEFAULT_EXPIRES_SECONDS",
    "MAX_EXPIRES_SECONDS",
    "MIN_EXPIRES_SECONDS",
    "CreatedLink",
    "LinkCreate",
    "LinkPause",
    "LinkRun",
    "LinkView",
]

DEFAULT_EXPIRES_SECONDS = 7 * 24 * 3600
MAX_EXPIRES_SECONDS = 90 * 24 * 3600
MIN_EXPIRES_SECONDS = 60


class LinkCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Who the link is for (an address, a name): recorded as the actor `link:<recipient>`.
    recipient: Text = Field(
        min_length=1, max_length=300, pattern=r"^[^\x00-\x1f\x7f]*\S[^\x00-\x1f\x7f]*$"
    )
    # Seconds from now until the link stops working.
    expires_in: int = Field(
        default=DEFAULT_EXPIRES_SECONDS, ge=MIN_EXPIRES_SECONDS, le=MAX_EXPIRES_SECONDS
    )


class CreatedLink(BaseModel):
    id: str
    url: str
    flow_run_id: str
    pause_key: str
    recipient: str
    created_at: datetime
    expires_at: datetime


class LinkRun(BaseModel):
    id: str
    name: str
    flow_name: str
    state: dict[str, Any]


class LinkPause(BaseModel):
    key: str
    schema_: Any = Field(default=None, alias="schema", serialization_alias="schema")
    description: str | None = None
    deadline: datetime | None = None
    reschedule: bool = False
    # What the deadline brings: "defaults" resumes with the form's defaults, "fail" fails the run.
    on_timeout: Literal["fail", "defaults"] = "fail"


class LinkView(BaseModel):
    """What the link page shows. `status` is open, used, superseded or expired; `at` is when
    a closed link closed, `message` says why; `pause` is given only while the link is open."""

    id: str
    status: str
    message: str
    at: datetime | None
    recipient: str
    pause_key: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    run: LinkRun
    pause: LinkPause | None
