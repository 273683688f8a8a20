"""run_deployment: start a run of a served flow, and optionally wait for it to finish."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from inloop._dual import async_twin, dual
from inloop.client import ServerUnavailable, get_client
from inloop.context import current_flow_run
from inloop.schemas import FlowRun

__all__ = ["run_deployment", "run_deployment_async"]

LONG_POLL_SECONDS = 30.0
RETRY_SECONDS = 1.0


@dual
async def run_deployment(
    name: str,
    parameters: dict[str, Any] | None = None,
    timeout: float | None = None,
    as_subflow: bool = True,
) -> FlowRun:
    """Schedule a run of the deployment `name` ('flow-name/deployment-name') and return it.

    `timeout=0` returns the scheduled run at once; `timeout=None` waits until the run reaches a
    final state; a number waits at most that many seconds, then returns the run as it is. With
    `as_subflow=True`, a call inside a flow run records that run as the new run's parent.
    """
    client = get_client()
    parent = current_flow_run() if as_subflow else None
    run: FlowRun = await client.run_deployment_by_name.aio(
        name, parameters, parent_flow_run_id=parent.flow_run.id if parent else None
    )
    if timeout is not None and timeout <= 0:
        return run
    deadline = None if timeout is None else time.monotonic() + timeout
    while not run.state.is_final():
        wait = LONG_POLL_SECONDS
        if deadline is not None:
            wait = min(wait, deadline - time.monotonic())
            if wait <= 0:
                break
        try:
            run = await client.wait_for_flow_run_change.aio(run.id, run.state_seq, timeout=wait)
        except (ServerUnavailable, httpx.TransportError):
            # The server is restarting: the run goes on without us; look again shortly.
            await asyncio.sleep(RETRY_SECONDS)
    return run


run_deployment_async = async_twin(run_deployment)  # always a coroutine function (see inloop._dual)

