"""@task results survive suspension: a re-executed run reuses them instead of running again."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from inloop import flow, task
from inloop.client import get_client
from inloop.deployments import run_deployment
from inloop.flow_runs import resume_flow_run
from inloop.schemas import StateType
from tests.waiting import wait_for

FLOWS_DIR = Path(__file__).resolve().parents[1] / "flows"
TASKS = FLOWS_DIR / "task_flows.py"


def serve(spawn: Any, which: str, tmp_path: Path) -> tuple[Any, Path]:
    log = tmp_path / f"{which}-task.log"
    runner = spawn(TASKS, which, env={"TASK_LOG": str(log)})
    runner.wait_for_output("is being served")
    return runner, log


def wait_state(run_id: Any, state: StateType, timeout: float = 20) -> Any:
    client = get_client()
    return wait_for(lambda: (r := client.read_flow_run(run_id)).state.type is state and r, timeout)


def test_sync_tasks_are_not_redone_after_suspension(
    server: Any, spawn: Any, tmp_path: Path
) -> None:
    runner, log = serve(spawn, "sync", tmp_path)
    run = run_deployment("sync-flow/tasks", {"x": 5}, timeout=0)
    wait_state(run.id, StateType.SUSPENDED)
    assert log.read_text().splitlines() == ["add 5 1", "add 5 1", "today"]

    resume_flow_run(run.id, {"value": "go"})
    wait_state(run.id, StateType.COMPLETED)
    assert log.read_text().splitlines() == ["add 5 1", "add 5 1", "today", "add 6 6"]
    runner.wait_for_output("result 6 6 12 datetime.date(2024, 1, 2) go")


def test_async_tasks_are_not_redone_after_suspension(
    server: Any, spawn: Any, tmp_path: Path
) -> None:
    runner, log = serve(spawn, "async", tmp_path)
    run = run_deployment("async-flow/tasks", {"key": "k"}, timeout=0)
    wait_state(run.id, StateType.SUSPENDED)
    resume_flow_run(run.id, {"value": 3})
    wait_state(run.id, StateType.COMPLETED)
    assert log.read_text().splitlines() == ["fetch k"]
    runner.wait_for_output("async result {'key': 'k'} 3")


def test_a_result_that_is_not_json_fails_naming_the_task(
    server: Any, spawn: Any, tmp_path: Path
) -> None:
    serve(spawn, "bad", tmp_path)
    run = run_deployment("bad-flow/tasks")
    assert run.state.type is StateType.FAILED
    assert "task 'opaque' returned a value of type object" in (run.state.message or "")


def test_outside_a_flow_a_task_is_its_function() -> None:
    @task
    def double(n: int) -> int:
        return n * 2

    @task(name="async double")
    async def adouble(n: int) -> int:
        return n * 2

    assert double(4) == 8
    assert asyncio.run(adouble(5)) == 10
    assert adouble.name == "async double" and double.name == "double"


def test_results_are_stored_per_run_and_call(server: Any) -> None:
    calls: list[int] = []

    @task
    def square(n: int) -> int:
        calls.append(n)
        return n * n

    @flow
    def squares() -> list[int]:
        return [square(2), square(2), square(3)]

    assert squares() == [4, 4, 9]
    assert squares() == [4, 4, 9]
    # Each run executes its own calls (results are per run, and per call within a run).
    assert calls == [2, 2, 3, 2, 2, 3]


def test_task_results_api(server: Any) -> None:
    import httpx

    run = get_client().create_flow_run("api-flow")
    with httpx.Client(base_url=f"{server.api_url}/flow_runs/{run.id}", timeout=10) as http:
        missing = http.get("/task_results/add-1-abc")
        assert missing.status_code == 404
        assert "no stored result for task key 'add-1-abc'" in missing.json()["detail"]
        first = http.put("/task_results/add-1-abc", json={"task_name": "add", "result": [1]})
        assert first.status_code == 200 and first.json()["result"] == [1]
        # First write wins: a second execution racing the first gets the stored result.
        second = http.put("/task_results/add-1-abc", json={"task_name": "add", "result": [2]})
        assert second.json()["result"] == [1]
        assert http.get("/task_results/add-1-abc").json()["result"] == [1]
        assert http.put("/task_results/Bad Key", json={"task_name": "x"}).status_code == 422
    with httpx.Client(base_url=server.api_url, timeout=10) as http:
        unknown = http.get("/flow_runs/00000000-0000-0000-0000-000000000000/task_results/k")
        assert unknown.status_code == 404 and "not found" in unknown.json()["detail"]
