"""The explicit `*_async` twins: coroutine functions wherever they are called (DESIGN)."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

from inloop.client import ObjectNotFound, WrongState, get_client
from inloop.deployments import run_deployment_async
from inloop.flow_runs import pause_flow_run_async, resume_flow_run_async, suspend_flow_run_async
from inloop.input.run_input import send_input_async
from inloop.schemas import StateType

TWINS = [
    pause_flow_run_async,
    suspend_flow_run_async,
    resume_flow_run_async,
    send_input_async,
    run_deployment_async,
]


@pytest.mark.parametrize("twin", TWINS, ids=lambda t: t.__name__)
def test_twins_are_coroutine_functions_named_for_their_dual(twin: Any) -> None:
    assert inspect.iscoroutinefunction(twin)
    assert twin.__name__.endswith("_async")
    assert twin.__doc__


def test_twins_return_coroutines_outside_a_running_loop(server: Any) -> None:
    client = get_client()
    run = client.create_flow_run("twins", state=StateType.RUNNING)

    sent = send_input_async("hello", flow_run_id=run.id)
    assert inspect.iscoroutine(sent)  # no running loop here, and still a coroutine
    asyncio.run(sent)
    stored = client.read_flow_run_inputs(run.id)
    assert [i.value for i in stored] == [{"value": "hello"}]
    assert stored[0].key.startswith("str-auto-")

    with pytest.raises(WrongState, match="not paused"):
        asyncio.run(resume_flow_run_async(run.id))
    with pytest.raises(ObjectNotFound, match="no-such/deployment"):
        asyncio.run(run_deployment_async("no-such/deployment", timeout=0))
