"""The events table through the API: what each change records, who did it, that an event
commits with its change or not at all, the filters and paging of GET /api/events, its 422s and
its long-poll. On the app in process (tests/inprocess.py); the upgrade of an older database
stops and starts a real server subprocess."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import create_async_engine

from inloop.server.database.engine import MIGRATIONS
from tests.inprocess import AppClient

SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}


@pytest.fixture
def api(app_client: AppClient) -> AppClient:
    return app_client


def new_run(api: httpx.Client, flow_name: str) -> dict[str, Any]:
    response = api.post("/flow_runs", json={"flow_name": flow_name, "state": "RUNNING"})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def paused_run(
    api: httpx.Client, flow_name: str = "events", timeout: float | None = 3600
) -> dict[str, Any]:
    run = new_run(api, flow_name)
    body = {"key": "paused-1", "schema": SCHEMA, "timeout": timeout}
    response = api.post(f"/flow_runs/{run['id']}/pause", json=body)
    assert response.status_code == 200, response.text
    paused: dict[str, Any] = response.json()
    return paused


def run_events(api: httpx.Client, run_id: Any, **params: Any) -> list[dict[str, Any]]:
    response = api.get("/events", params={"flow_run_id": str(run_id), **params})
    assert response.status_code == 200, response.text
    return list(response.json())


def kinds(found: list[dict[str, Any]]) -> list[str]:
    return [event["kind"] for event in found]


def test_pause_and_resume_record_events_with_the_actor(api) -> None:
    run = paused_run(api)
    response = api.post(
        f"/flow_runs/{run['id']}/resume",
        json={"run_input": {"name": "ada", "age": 36}},
        headers={"x-inloop-actor": "ada"},
    )
    assert response.status_code == 200, response.text
    found = run_events(api, run["id"])
    assert kinds(found) == [
        "flow-run.created",
        "flow-run.running",
        "flow-run.paused",
        "flow-run.input-received",
        "flow-run.resumed",
    ]
    paused, received, resumed = found[2], found[3], found[4]
    assert paused["details"]["key"] == "paused-1"
    assert (paused["details"]["from"], paused["details"]["to"]) == ("RUNNING", "PAUSED")
    assert resumed["actor"] == "local:ada"
    assert resumed["details"]["key"] == "paused-1"
    assert resumed["details"]["to"] == "RUNNING"
    # In process: the peer httpx.ASGITransport reports (a real socket's: tests/e2e/test_sso.py).
    assert resumed["remote"] == "127.0.0.1"
    assert resumed["flow_run_name"] == run["name"]
    assert received["details"]["key"] == "paused-1-response"
    assert received["details"]["sender"] == "local:ada"
    # Ids follow the order things happened in.
    assert [e["id"] for e in found] == sorted(e["id"] for e in found)
    # The run's own route answers the same.
    assert api.get(f"/flow_runs/{run['id']}/events").json() == found


def test_an_input_records_its_key_sender_and_size_but_never_its_value(api) -> None:
    run = new_run(api, "events-input")
    secret = {"password": "hunter2-do-not-log"}
    response = api.post(
        f"/flow_runs/{run['id']}/input",
        json={"key": "note-1", "value": secret, "sender": "someone"},
        headers={"x-inloop-actor": "bob"},
    )
    assert response.status_code == 201, response.text
    found = run_events(api, run["id"], kind="flow-run.input-received")
    assert len(found) == 1
    event = found[0]
    assert event["actor"] == "local:bob"
    size = len(json.dumps(secret, separators=(",", ":")))
    assert event["details"] == {"key": "note-1", "sender": "someone", "bytes": size}
    assert "hunter2" not in api.get("/events").text


def test_a_rejected_resume_records_input_rejected_without_the_value(api) -> None:
    run = paused_run(api)
    response = api.post(
        f"/flow_runs/{run['id']}/resume",
        json={"run_input": {"name": "ada", "age": "not-a-number-xyz"}},
        headers={"x-inloop-actor": "eve"},
    )
    assert response.status_code == 422
    found = run_events(api, run["id"])
    assert kinds(found)[-1] == "flow-run.input-rejected"
    assert "flow-run.resumed" not in kinds(found)
    rejected = found[-1]
    assert rejected["actor"] == "local:eve"
    assert rejected["details"]["key"] == "paused-1"
    errors = rejected["details"]["errors"]
    assert errors == [{"loc": ["run_input", "age"], "type": "jsonschema.type"}]
    assert "not-a-number-xyz" not in json.dumps(found)


def test_cancel_records_cancelled_with_the_actor(api) -> None:
    run = new_run(api, "events-cancel")
    response = api.post(f"/flow_runs/{run['id']}/cancel", headers={"x-inloop-actor": "carol"})
    assert response.status_code == 200
    cancelled = run_events(api, run["id"], kind="flow-run.cancelled")
    assert len(cancelled) == 1
    assert cancelled[0]["actor"] == "local:carol"
    assert cancelled[0]["details"]["from"] == "RUNNING"


def test_a_pause_timeout_records_the_actor_timeout(api, wait_for) -> None:
    run = paused_run(api, "events-timeout", timeout=1)
    failed = wait_for(
        lambda: run_events(api, run["id"], kind="flow-run.failed", wait=10) or None, timeout=60
    )
    assert failed[0]["actor"] == "timeout"
    assert "timed out" in failed[0]["details"]["message"]


def test_a_refused_transition_records_nothing(api) -> None:
    run = new_run(api, "events-refused")
    run_url = f"/flow_runs/{run['id']}"
    assert api.post(f"{run_url}/set_state", json={"type": "COMPLETED"}).status_code == 200
    before = run_events(api, run["id"])
    # Each of these fails inside its transaction, after the run's row was read and locked.
    assert api.post(f"{run_url}/set_state", json={"type": "RUNNING"}).status_code == 409
    assert api.post(f"{run_url}/cancel").status_code == 409
    assert api.post(f"{run_url}/resume").status_code == 409
    assert run_events(api, run["id"]) == before
    # And every state the run went through is one event: the history and the events agree.
    history = api.get(f"{run_url}/states").json()
    transitions = [e for e in before if e["kind"] != "flow-run.created"]
    assert [e["details"]["to"] for e in transitions] == [s["type"] for s in history[1:]]


def test_filters_and_paging(api) -> None:
    started = datetime.now(UTC) - timedelta(seconds=1)
    pager = {"x-inloop-actor": "pager"}
    runs = [
        api.post("/flow_runs", json={"flow_name": "events-paging"}, headers=pager).json()
        for _ in range(3)
    ]
    for run in runs:
        api.post(f"/flow_runs/{run['id']}/cancel", headers=pager)
    ids = {run["id"] for run in runs}
    mine = api.get("/events", params={"actor": "local:pager"}).json()
    assert kinds(mine) == ["flow-run.created"] * 3 + ["flow-run.cancelled"] * 3
    assert {e["flow_run_id"] for e in mine} == ids

    # Oldest first, two at a time, continuing after the last id seen: every event once, in order.
    pages, after = [], 0
    while True:
        page = api.get(
            "/events", params={"actor": "local:pager", "limit": 2, "after_id": after}
        ).json()
        if not page:
            break
        assert len(page) <= 2
        pages.extend(page)
        after = page[-1]["id"]
    assert pages == mine
    # Newest first, continuing before the last id seen.
    newest, before = [], None
    while True:
        params: dict[str, Any] = {"actor": "local:pager", "limit": 2, "order": "desc"}
        if before is not None:
            params["before_id"] = before
        page = api.get("/events", params=params).json()
        if not page:
            break
        newest.extend(page)
        before = page[-1]["id"]
    assert newest == list(reversed(mine))

    # A kind prefix; has_actor; a time window.
    every_run_event = api.get("/events", params={"kind": "flow-run.", "actor": "local:pager"})
    assert len(every_run_event.json()) == len(mine)
    created = api.get("/events", params={"kind": "flow-run.cre", "actor": "local:pager"}).json()
    assert kinds(created) == ["flow-run.created"] * 3
    assert all(e["actor"] for e in api.get("/events", params={"has_actor": "true"}).json())
    window = api.get(
        "/events",
        params={"actor": "local:pager", "since": started.isoformat(), "limit": 1000},
    ).json()
    assert window == mine
    assert api.get(
        "/events", params={"actor": "local:pager", "until": started.isoformat()}
    ).json() == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"kind": "Flow Run"}, "kind"),
        ({"kind": "flow-run.\x00"}, "kind"),
        ({"kind": "x" * 101}, "kind"),
        ({"actor": "ada\x00"}, "actor"),
        ({"actor": "a" * 301}, "actor"),
        ({"after_id": -1}, "after_id"),
        ({"before_id": 0}, "before_id"),
        ({"order": "sideways"}, "order"),
        ({"wait": 61}, "wait"),
        ({"since": "yesterday"}, "since"),
        ({"flow_run_id": "not-a-uuid"}, "flow_run_id"),
        ({"since": "2025-01-02T00:00:00Z", "until": "2025-01-01T00:00:00Z"}, "until"),
    ],
)
def test_bad_parameters_are_422_naming_the_field(api, params, field) -> None:
    response = api.get("/events", params=params)
    assert response.status_code == 422, response.text
    assert [field] in [error["loc"][-1:] for error in response.json()["detail"]]


def test_a_long_poll_answers_when_an_event_is_recorded(api) -> None:
    run = new_run(api, "events-wake")
    last = run_events(api, run["id"])[-1]["id"]
    answer: list[Any] = []
    # Shorter than the server's fallback re-check (5 s): only a wake-up can deliver in time.
    poll = threading.Thread(
        target=lambda: answer.append(
            api.get("/events", params={"after_id": last, "wait": 4, "flow_run_id": run["id"]})
        )
    )
    poll.start()
    api.post(f"/flow_runs/{run['id']}/cancel")
    poll.join()
    assert kinds(answer[0].json()) == ["flow-run.cancelled"]


def test_actor_is_api_key_when_the_shared_key_let_it_in(
    app_factory: Callable[..., AppClient],
) -> None:
    http = app_factory(api_key="s3cret")
    http.headers.update({"authorization": "Bearer s3cret", "x-inloop-actor": "mallory"})
    run = http.post("/flow_runs", json={"flow_name": "keyed", "state": "RUNNING"}).json()
    http.post(f"/flow_runs/{run['id']}/cancel")
    found = http.get("/events", params={"flow_run_id": run["id"]}).json()
    assert {e["actor"] for e in found} == {"api-key"}
    assert "flow-run.cancelled" in kinds(found)


def test_an_older_database_upgrades_and_its_runs_record_events(fresh_server: Any) -> None:
    fresh_server.stop()
    url = fresh_server.database_url or f"sqlite+aiosqlite:///{fresh_server.home / 'inloop.db'}"

    async def downgrade_to_before_events() -> None:
        def work(conn: sa.Connection) -> None:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = conn
            command.downgrade(config, "0005")

        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(work)
                tables = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
            assert "events" not in tables
        finally:
            await engine.dispose()

    asyncio.run(downgrade_to_before_events())
    fresh_server.start()  # the server migrates to head on start: 0006 creates the table
    with httpx.Client(base_url=fresh_server.api_url, timeout=30) as http:
        run = http.post("/flow_runs", json={"flow_name": "upgraded"}).json()
        found = http.get("/events", params={"flow_run_id": run["id"]}).json()
    assert kinds(found) == ["flow-run.created"]
