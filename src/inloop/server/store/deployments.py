"""All reads and writes of deployments, and runners claiming their scheduled runs."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from inloop.schemas import Deployment, DeploymentCreate, FlowRun, StateType
from inloop.server.database.engine import Connection, Tx
from inloop.server.database.schema import deployments, flow_runs, flows, utcnow
from inloop.server.errors import NotFound
from inloop.server.store import runs

__all__ = [
    "claim_scheduled_run",
    "list_deployments",
    "read_deployment",
    "read_deployment_by_name",
    "release_claimed_runs",
    "touch_deployments",
    "upsert_deployment",
    "with_runner_status",
]

SELECT = sa.select(deployments, flows.c.name.label("flow_name")).select_from(
    deployments.join(flows, flows.c.id == deployments.c.flow_id)
)


# A runner polls again the moment a long-poll ends; this covers the round trip and a busy server.
ONLINE_SLACK_SECONDS = 5.0


def with_runner_status(deployment: Deployment, now: datetime, poll_seconds: float) -> Deployment:
    """The deployment with `runner_online` set: did a runner ask for work recently enough?

    A serving runner re-polls at least every `poll_seconds` (each claim touches `last_polled`),
    so one silent for twice that (plus slack) has stopped or lost the server.
    """
    window = timedelta(seconds=2 * poll_seconds + ONLINE_SLACK_SECONDS)
    polled = deployment.last_polled
    online = polled is not None and now - polled <= window
    return deployment.model_copy(update={"runner_online": online})


def _to_deployment(row: Any) -> Deployment:
    return Deployment(
        id=row.id,
        name=row.name,
        flow_id=row.flow_id,
        flow_name=row.flow_name,
        full_name=f"{row.flow_name}/{row.name}",
        entrypoint=row.entrypoint,
        parameter_schema=row.parameter_schema or {},
        created=row.created,
        last_polled=row.last_polled,
    )


async def upsert_deployment(tx: Tx, request: DeploymentCreate) -> Deployment:
    flow_id = await runs.ensure_flow(tx, request.flow_name)
    now = utcnow()
    found = (
        await tx.execute(
            sa.select(deployments.c.id)
            .where(deployments.c.flow_id == flow_id)
            .where(deployments.c.name == request.name)
        )
    ).first()
    values = {
        "entrypoint": request.entrypoint,
        "parameter_schema": request.parameter_schema,
        "updated": now,
        "last_polled": now,
    }
    if found is None:
        dep_id = str(uuid.uuid4())
        await tx.execute(
            deployments.insert().values(
                id=dep_id, flow_id=flow_id, name=request.name, created=now, **values
            )
        )
    else:
        dep_id = found.id
        await tx.execute(deployments.update().where(deployments.c.id == dep_id).values(**values))
    tx.notify("deployments")
    row = (await tx.execute(SELECT.where(deployments.c.id == dep_id))).one()
    return _to_deployment(row)


async def list_deployments(conn: Connection) -> list[Deployment]:
    query = SELECT.order_by(flows.c.name, deployments.c.name)
    return [_to_deployment(row) for row in await conn.execute(query)]


async def read_deployment(conn: Connection, dep_id: str) -> Deployment:
    row = (await conn.execute(SELECT.where(deployments.c.id == dep_id))).first()
    if row is None:
        raise NotFound(f"deployment '{dep_id}' not found")
    return _to_deployment(row)


async def read_deployment_by_name(conn: Connection, flow: str, name: str) -> Deployment:
    row = (
        await conn.execute(SELECT.where(flows.c.name == flow).where(deployments.c.name == name))
    ).first()
    if row is None:
        known = [f"{r.flow_name}/{r.name}" for r in await conn.execute(SELECT)]
        hint = f"; known deployments: {', '.join(sorted(known))}" if known else (
            "; no deployments exist yet (serve one with Flow.serve(name=...))"
        )
        raise NotFound(f"deployment '{flow}/{name}' not found{hint}")
    return _to_deployment(row)


async def touch_deployments(tx: Tx, dep_ids: list[str]) -> None:
    await tx.execute(
        deployments.update().where(deployments.c.id.in_(dep_ids)).values(last_polled=utcnow())
    )


async def claim_scheduled_run(tx: Tx, dep_ids: list[str], runner_id: str) -> FlowRun | None:
    """Atomically take the oldest scheduled run of these deployments (PENDING, ours)."""
    query = (
        sa.select(flow_runs.c.id)
        .where(flow_runs.c.deployment_id.in_(dep_ids))
        .where(flow_runs.c.state_type == StateType.SCHEDULED.value)
        .order_by(flow_runs.c.state_timestamp)
        .limit(1)
    )
    if tx.conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    run_id = (await tx.execute(query)).scalar_one_or_none()
    if run_id is None:
        return None
    row = await runs.lock_run(tx, run_id)
    return await runs.write_state(
        tx,
        row,
        StateType.PENDING,
        details={"runner_id": runner_id},
        extra={"runner_id": runner_id, "heartbeat_at": utcnow()},
    )


async def release_claimed_runs(tx: Tx, run_ids: list[str], runner_id: str) -> list[str]:
    """Put back (SCHEDULED) those of these runs this runner claimed but never started."""
    released = []
    for run_id in run_ids:
        row = await runs.lock_run(tx, run_id)
        if row.state_type == StateType.PENDING.value and row.runner_id == runner_id:
            await runs.write_state(
                tx, row, StateType.SCHEDULED, "released by a runner that was stopping"
            )
            released.append(run_id)
    return released
