"""Deployments: register (from Flow.serve), list, run by name, and runners claiming runs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from inloop.schemas import (
    ClaimRequest,
    Deployment,
    DeploymentCreate,
    FlowRun,
    FlowRunWithToken,
    Released,
    ReleaseRequest,
    RunDeploymentRequest,
    StateType,
)
from inloop.server.access import Principal, check_run_targets
from inloop.server.api.deps import get_db, remote_address, run_tokens
from inloop.server.api.params import DeploymentId, Name
from inloop.server.api.responses import errors
from inloop.server.database.engine import Database
from inloop.server.database.schema import utcnow
from inloop.server.errors import Conflict, Invalid
from inloop.server.permissions import principal, require, run_facts
from inloop.server.run_tokens import RunTokens
from inloop.server.store import deployments, runs
from inloop.server.store.pauses import UnusableSchema, schema_problem, validate_against_schema
from inloop.server.wakeups import wait_until

router = APIRouter(tags=["deployments"])


def _runner_status(request: Request, found: list[Deployment]) -> list[Deployment]:
    # The app's own settings, not the process environment: an app made with explicit settings
    # (create_app(settings)) judges runners by the poll interval it was given.
    now, poll = utcnow(), request.app.state.settings.runner_poll_seconds
    return [deployments.with_runner_status(deployment, now, poll) for deployment in found]


@router.post(
    "/deployments", status_code=201, responses=errors(413, 422),
    dependencies=[require("deployments:register")],
)
async def upsert_deployment(
    request: Request, body: DeploymentCreate, db: Database = Depends(get_db)
) -> Deployment:
    problem = schema_problem(body.parameter_schema)
    if problem is not None:
        raise Invalid(
            [{"loc": ["body", "parameter_schema"], "msg": problem, "type": "value_error.schema"}]
        )
    async with db.transaction() as tx:
        deployment = await deployments.upsert_deployment(tx, body)
    return _runner_status(request, [deployment])[0]


@router.get("/deployments", dependencies=[require("runs:read")])
async def list_deployments(request: Request, db: Database = Depends(get_db)) -> list[Deployment]:
    async with db.read() as conn:
        return _runner_status(request, await deployments.list_deployments(conn))


@router.get(
    "/deployments/{deployment_id}", responses=errors(404, 422),
    dependencies=[require("runs:read")],
)
async def read_deployment(
    request: Request, deployment_id: DeploymentId, db: Database = Depends(get_db)
) -> Deployment:
    async with db.read() as conn:
        deployment = await deployments.read_deployment(conn, deployment_id)
    return _runner_status(request, [deployment])[0]


def _check_parameters(deployment: Deployment, parameters: dict[str, Any]) -> None:
    if not deployment.parameter_schema:
        return
    try:
        errors = validate_against_schema(deployment.parameter_schema, parameters)
    except UnusableSchema as exc:
        raise Conflict(
            f"deployment '{deployment.full_name}' cannot be run: its parameter schema is "
            f"unusable ({exc}); serve the flow again to register a valid one"
        ) from exc
    if errors:
        for error in errors:
            error["loc"] = ["body", "parameters", *error["loc"][1:]]
            error["msg"] = f"{error['msg']} (deployment '{deployment.full_name}')"
        raise Invalid(errors)


async def _schedule(
    request: Request,
    caller: Principal,
    db: Database,
    deployment: Deployment,
    body: RunDeploymentRequest,
    remote: str | None = None,
) -> FlowRun:
    # A run token runs a deployment only as its own subflow (run_deployment's default).
    await check_run_targets(
        run_facts(request), caller, "deployments:run", [body.parent_flow_run_id],
        "parent_flow_run_id",
    )
    _check_parameters(deployment, body.parameters)
    async with db.transaction() as tx:
        return await runs.create_run(
            tx,
            flow_name=deployment.flow_name,
            parameters=body.parameters,
            state=StateType.SCHEDULED,
            deployment_id=str(deployment.id),
            parent_flow_run_id=str(body.parent_flow_run_id) if body.parent_flow_run_id else None,
            actor=caller.actor,
            remote=remote,
        )


@router.post(
    "/deployments/name/{flow_name}/{deployment_name}/run",
    status_code=201,
    responses=errors(404, 409, 413, 422),
    dependencies=[require("deployments:run")],
)
async def run_deployment_by_name(
    flow_name: Name,
    deployment_name: Name,
    request: Request,
    body: RunDeploymentRequest | None = None,
    caller: Principal = Depends(principal),
    db: Database = Depends(get_db),
    remote: str | None = Depends(remote_address),
) -> FlowRun:
    async with db.read() as conn:
        deployment = await deployments.read_deployment_by_name(conn, flow_name, deployment_name)
    return await _schedule(
        request, caller, db, deployment, body or RunDeploymentRequest(), remote
    )


@router.post(
    "/deployments/{deployment_id}/run", status_code=201, responses=errors(404, 409, 413, 422),
    dependencies=[require("deployments:run")],
)
async def run_deployment(
    deployment_id: DeploymentId,
    request: Request,
    body: RunDeploymentRequest | None = None,
    caller: Principal = Depends(principal),
    db: Database = Depends(get_db),
    remote: str | None = Depends(remote_address),
) -> FlowRun:
    async with db.read() as conn:
        deployment = await deployments.read_deployment(conn, deployment_id)
    return await _schedule(
        request, caller, db, deployment, body or RunDeploymentRequest(), remote
    )


@router.post("/runners/claim", responses=errors(413, 422), dependencies=[require("runners:claim")])
async def claim(
    body: ClaimRequest,
    request: Request,
    db: Database = Depends(get_db),
    tokens: RunTokens = Depends(run_tokens),
) -> FlowRunWithToken | None:
    """Take one scheduled run of these deployments, long-polling up to `wait` seconds.

    The claimed run comes with a fresh run token for the process the runner starts for it.
    """
    ids = [str(i) for i in body.deployment_ids]
    async with db.transaction() as tx:
        await deployments.touch_deployments(tx, ids)

    async def take() -> FlowRun | None:
        if await request.is_disconnected():
            # The runner gave up waiting (it is stopping): a run claimed now would be orphaned.
            return None
        async with db.transaction() as tx:
            return await deployments.claim_scheduled_run(tx, ids, body.runner_id)

    run = await wait_until(db.hub, ["scheduled"], take, body.wait)
    if run is None:
        return None
    return FlowRunWithToken(**dict(run), run_token=tokens.mint(run.id))


@router.post(
    "/runners/release", responses=errors(404, 413, 422), dependencies=[require("runners:claim")]
)
async def release(body: ReleaseRequest, db: Database = Depends(get_db)) -> Released:
    """Give back runs this runner claimed but never started (it is stopping)."""
    async with db.transaction() as tx:
        released = await deployments.release_claimed_runs(
            tx, [str(i) for i in body.flow_run_ids], body.runner_id
        )
    return Released(released=released)
