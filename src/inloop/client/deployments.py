"""Deployments and what runs them: register and list deployments, start a run of one by name,
the runner's claim and release of scheduled runs, and the blocks (named stored values) flows
read and save.

Each function is a method of `InloopClient` (bound there, so `client.read_deployments()`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from inloop._dual import dual
from inloop.client._http import LONG_POLL_SLACK, BaseClient, ObjectNotFound
from inloop.schemas import BlockDocument, Deployment, FlowRun, FlowRunWithToken

__all__ = [
    "claim_flow_run",
    "create_deployment",
    "read_block",
    "read_deployments",
    "release_flow_runs",
    "run_deployment_by_name",
    "save_block",
]


@dual
async def create_deployment(
    client: BaseClient,
    flow_name: str,
    name: str,
    entrypoint: str,
    parameter_schema: dict[str, Any] | None = None,
) -> Deployment:
    body = {
        "flow_name": flow_name,
        "name": name,
        "entrypoint": entrypoint,
        "parameter_schema": parameter_schema or {},
    }
    return Deployment.model_validate(await client._send("POST", "/deployments", json=body))


@dual
async def read_deployments(client: BaseClient) -> list[Deployment]:
    found = await client._send("GET", "/deployments")
    return [Deployment.model_validate(item) for item in found]


@dual
async def run_deployment_by_name(
    client: BaseClient,
    full_name: str,
    parameters: dict[str, Any] | None = None,
    parent_flow_run_id: UUID | str | None = None,
) -> FlowRun:
    flow_name, sep, deployment_name = full_name.partition("/")
    if not sep or not flow_name or not deployment_name or "/" in deployment_name:
        raise ValueError(
            f"deployment name {full_name!r} should look like 'flow-name/deployment-name'"
        )
    body = {
        "parameters": parameters or {},
        "parent_flow_run_id": str(parent_flow_run_id) if parent_flow_run_id else None,
    }
    found = await client._send(
        "POST", f"/deployments/name/{flow_name}/{deployment_name}/run", json=body
    )
    return FlowRun.model_validate(found)


# --- runners ------------------------------------------------------------------------------------
@dual
async def claim_flow_run(
    client: BaseClient, deployment_ids: Sequence[UUID | str], runner_id: str, wait: float = 0
) -> FlowRunWithToken | None:
    body = {
        "deployment_ids": [str(d) for d in deployment_ids],
        "runner_id": runner_id,
        "wait": wait,
    }
    found = await client._send("POST", "/runners/claim", json=body, timeout=wait + LONG_POLL_SLACK)
    return FlowRunWithToken.model_validate(found) if found else None


@dual
async def release_flow_runs(
    client: BaseClient, flow_run_ids: Sequence[UUID | str], runner_id: str
) -> list[str]:
    """Give back runs this runner claimed but never started; the ids released."""
    body = {"flow_run_ids": [str(i) for i in flow_run_ids], "runner_id": runner_id}
    found = await client._send("POST", "/runners/release", json=body, idempotent=True)
    return [str(i) for i in found["released"]]


# --- blocks -------------------------------------------------------------------------------------
@dual
async def read_block(client: BaseClient, block_type: str, name: str) -> BlockDocument | None:
    try:
        found = await client._send("GET", f"/blocks/{block_type}/{name}")
    except ObjectNotFound:
        return None
    return BlockDocument.model_validate(found)


@dual
async def save_block(
    client: BaseClient, block_type: str, name: str, value: Any, overwrite: bool = False
) -> BlockDocument:
    found = await client._send(
        "PUT", f"/blocks/{block_type}/{name}", json={"value": value, "overwrite": overwrite}
    )
    return BlockDocument.model_validate(found)
