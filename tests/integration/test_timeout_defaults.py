"""Pauses with on_timeout="defaults", over HTTP: the answer is checked at pause time, and with
several server replicas each overdue pause is resumed once, by the actor `timeout`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import ServerInfo, free_port, is_postgres
from tests.waiting import wait_for

REVIEW_SCHEMA = {
    "type": "object",
    "properties": {
        "approved": {"type": "boolean", "default": False},
        "note": {"type": "string", "default": "no answer in time"},
    },
    "additionalProperties": False,
}
PERSON_SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "default": 3}},
    "required": ["name"],
}
# Runs created over HTTP beat once and never again: keep the reaper from calling them crashed.
PATIENT = {
    "INLOOP_PAUSED_HEARTBEAT_GRACE_SECONDS": "3600",
    "INLOOP_HEARTBEAT_GRACE_SECONDS": "3600",
}


@pytest.fixture
def replicas(
    server_factory: Callable[..., ServerInfo], tmp_path: Path
) -> Iterator[list[ServerInfo]]:
    """Two servers on one PostgreSQL database, both running their reapers; on SQLite, one."""
    first = server_factory(**PATIENT)
    if not is_postgres(first.database_url):
        yield [first]
        return
    second = ServerInfo(port=free_port(), home=tmp_path, database_url=first.database_url,
                        settings=dict(PATIENT))
    second.start()
    try:
        yield [first, second]
    finally:
        second.stop()


def new_run(http: httpx.Client) -> str:
    created = http.post("/flow_runs", json={"flow_name": "waits-for-defaults", "state": "RUNNING"})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def test_each_overdue_pause_is_resumed_once_with_its_defaults(replicas: list[ServerInfo]) -> None:
    with httpx.Client(base_url=replicas[0].api_url, timeout=30) as http:
        run_ids = [new_run(http) for _ in range(6)]
        for run_id in run_ids:
            paused = http.post(f"/flow_runs/{run_id}/pause", json={
                "key": "review-1", "schema": REVIEW_SCHEMA, "timeout": 0.2,
                "on_timeout": "defaults",
            })
            assert paused.status_code == 200, paused.text
            assert paused.json()["state"]["details"]["on_timeout"] == "defaults"
            assert paused.json()["pause"]["on_timeout"] == "defaults"

        def state(run_id: str) -> str:
            return str(http.get(f"/flow_runs/{run_id}").json()["state"]["type"])

        wait_for(lambda: all(state(r) == "RUNNING" for r in run_ids), 30)
        for run_id in run_ids:
            answer = http.get(f"/flow_runs/{run_id}/input/review-1-response").json()
            assert answer["value"] == {"approved": False, "note": "no answer in time"}
            assert answer["sender"] == "timeout"
            history = http.get(f"/flow_runs/{run_id}/states").json()
            assert [s["type"] for s in history][-2:] == ["PAUSED", "RUNNING"]
            assert history[-1]["details"]["resumed_by"] == "timeout"
            resumed = http.get("/events", params={
                "flow_run_id": run_id, "kind": "flow-run.resumed"}).json()
            assert [e["actor"] for e in resumed] == ["timeout"]


def test_a_pause_whose_defaults_do_not_fit_is_refused_at_pause_time(server: Any) -> None:
    with httpx.Client(base_url=server.api_url, timeout=30) as http:
        run_id = new_run(http)
        missing = http.post(f"/flow_runs/{run_id}/pause", json={
            "key": "who", "schema": PERSON_SCHEMA, "timeout": 60, "on_timeout": "defaults"})
        assert missing.status_code == 422
        assert "no default for 'name'" in missing.text
        no_timeout = http.post(f"/flow_runs/{run_id}/pause", json={
            "key": "who", "schema": REVIEW_SCHEMA, "timeout": None, "on_timeout": "defaults"})
        assert no_timeout.status_code == 422
        assert "on_timeout='defaults' needs a timeout" in no_timeout.text
        wrong = http.post(f"/flow_runs/{run_id}/pause", json={
            "key": "who", "schema": REVIEW_SCHEMA, "timeout": 60, "on_timeout": "defaults",
            "timeout_input": {"approved": "maybe"}})
        assert wrong.status_code == 422
        assert wrong.json()["detail"][0]["loc"] == ["body", "timeout_input", "approved"]
        assert http.get(f"/flow_runs/{run_id}").json()["state"]["type"] == "RUNNING"
