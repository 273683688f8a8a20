"""Deployments, running them, and the runners that claim their runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from inloop.bounds import JsonObject, Text

__all__ = [
    "ClaimRequest",
    "Deployment",
    "DeploymentCreate",
    "ReleaseRequest",
    "Released",
    "RunDeploymentRequest",
]


class DeploymentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flow_name: Text = Field(min_length=1, max_length=200)
    name: Text = Field(min_length=1, max_length=200)
    entrypoint: Text = Field(max_length=2000)
    parameter_schema: JsonObject = Field(default_factory=dict)


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


class RunDeploymentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parameters: JsonObject = Field(default_factory=dict)
    parent_flow_run_id: UUID | None = None


class ReleaseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flow_run_ids: list[UUID] = Field(min_length=1, max_length=1000)
    runner_id: Text = Field(min_length=1, max_length=100)


class Released(BaseModel):
    released: list[str]


class ClaimRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deployment_ids: list[UUID] = Field(min_length=1, max_length=1000)
    runner_id: Text = Field(min_length=1, max_length=100)
    wait: float = Field(default=0, ge=0, le=60)
