"""The in-process layer itself (tests/inprocess.py): the app's lifespan, its own database, settings
taken from arguments only, concurrent requests, the async client and the store fixture."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable

import httpx
import pytest
import sqlalchemy as sa

from inloop.server.database.engine import Database
from tests.inprocess import AppClient


def test_the_lifespan_runs_and_the_database_is_migrated(app_client: AppClient) -> None:
    assert app_client.get("/health").status_code == 200
    created = app_client.post("/flow_runs", json={"flow_name": "inproc", "state": "RUNNING"})
    assert created.status_code == 201, created.text
    run_id = created.json()["id"]
    assert app_client.get(f"/flow_runs/{run_id}").json()["flow_name"] == "inproc"
    assert app_client.db is app_client.app.state.db


def test_each_fresh_app_has_an_empty_database_of_its_own(
    app_factory: Callable[..., AppClient],
) -> None:
    first, second = app_factory(), app_factory()
    assert first.database_url != second.database_url
    assert first.post("/flow_runs", json={"flow_name": "only-first"}).status_code == 201
    assert first.get("/flow_runs", params={"flow_name": "only-first"}).json()
    assert second.get("/flow_runs", params={"flow_name": "only-first"}).json() == []


def test_settings_come_from_arguments_not_the_environment(
    app_factory: Callable[..., AppClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INLOOP_API_KEY", "from-the-environment")
    assert app_factory().get("/health").status_code == 200
    keyed = app_factory(api_key="from-an-argument")
    assert keyed.get("/health").status_code == 401
    assert keyed.get("/health", headers={"authorization": "Bearer from-an-argument"}).is_success


def test_the_host_check_sees_the_address_the_app_is_bound_to(app_client: AppClient) -> None:
    assert app_client.get("/health").status_code == 200
    foreign = app_client.get("/health", headers={"host": "evil.example"})
    assert foreign.status_code == 400, foreign.text


def test_requests_from_several_threads_are_served_at_once(app_client: AppClient) -> None:
    run = app_client.post("/flow_runs", json={"flow_name": "inproc", "state": "RUNNING"}).json()
    # A long-poll holds its request open; the others must not queue behind it.
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        waiting = pool.submit(
            app_client.get, f"/flow_runs/{run['id']}/wait",
            params={"after_seq": run["state_seq"], "timeout": 10},
        )
        quick = [pool.submit(app_client.get, "/health") for _ in range(3)]
        assert all(f.result(timeout=3).status_code == 200 for f in quick)
        assert not waiting.done()
        done = app_client.post(f"/flow_runs/{run['id']}/set_state", json={"type": "COMPLETED"})
        assert done.status_code == 200, done.text
        answer = waiting.result(timeout=5)
        assert answer.status_code == 200
        assert answer.json()["state"]["type"] == "COMPLETED"


async def test_the_async_client_runs_on_the_test_loop(async_app_client: httpx.AsyncClient) -> None:
    assert (await async_app_client.get("/health")).status_code == 200
    created = await async_app_client.post("/flow_runs", json={"flow_name": "async-inproc"})
    assert created.status_code == 201, created.text


async def test_the_store_fixture_is_a_migrated_database(store: Database) -> None:
    async with store.transaction() as tx:
        result = await tx.execute(sa.text("SELECT count(*) FROM flow_runs"))
        assert result.scalar_one() == 0
