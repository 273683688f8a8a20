"""The resume-offer protocol over HTTP, with this test playing the paused flow's process:
long-poll for the offer, give a verdict; late verdicts change nothing; runs nothing beats for
are never offered (the seed's behaviour). In process (tests/inprocess.py)."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.inprocess import AppClient

SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


@pytest.fixture
def api(app_client: AppClient) -> httpx.Client:
    return app_client


def paused(api: httpx.Client, *, beat: bool = True, validate: bool = True) -> str:
    run = api.post("/flow_runs", json={"flow_name": "offers", "state": "RUNNING"}).json()
    if beat:  # as a flow process does before it pauses
        assert api.post("/flow_runs/heartbeat", json={"ids": [run["id"]]}).is_success
    body = {"key": "paused-1", "schema": SCHEMA, "validate_before_resume": validate}
    response = api.post(f"/flow_runs/{run['id']}/pause", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["pause"]["validate_before_resume"] is validate
    return str(run["id"])


def offers(api: httpx.Client, run_id: str, after_id: int = 0) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"key": "paused-1", "after_id": after_id, "wait": 30}
    found = api.get(f"/flow_runs/{run_id}/offers", params=params)
    assert found.status_code == 200, found.text
    return list(found.json())


def test_the_flow_refuses_then_accepts(api: httpx.Client) -> None:
    run_id = paused(api)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(
            api.post, f"/flow_runs/{run_id}/resume", json={"run_input": {"n": 3}}
        )
        [offer] = offers(api, run_id)
        assert offer["value"] == {"n": 3}
        verdict = {"errors": [{"loc": ["n"], "msg": "3 is odd", "type": "value_error"}]}
        assert api.post(f"/flow_runs/{run_id}/offers/{offer['id']}", json=verdict).is_success
        refused = pending.result()
        assert refused.status_code == 422
        assert refused.json()["detail"] == [
            {"loc": ["run_input", "n"], "msg": "3 is odd", "type": "value_error"}
        ]
        # Decided once: a second verdict is refused and changes nothing.
        again = api.post(f"/flow_runs/{run_id}/offers/{offer['id']}", json={"errors": []})
        assert again.status_code == 409
        assert "already decided (rejected)" in again.json()["detail"]

        pending = pool.submit(
            api.post, f"/flow_runs/{run_id}/resume", json={"run_input": {"n": 4}}
        )
        [offer] = offers(api, run_id, after_id=offer["id"])
        accept = api.post(f"/flow_runs/{run_id}/offers/{offer['id']}", json={"errors": []})
        assert accept.status_code == 204, accept.text
        assert pending.result().status_code == 200
    assert api.get(f"/flow_runs/{run_id}/input/paused-1-response").json()["value"] == {"n": 4}


def test_a_schema_refusal_never_reaches_the_flow(api: httpx.Client) -> None:
    run_id = paused(api)
    refused = api.post(f"/flow_runs/{run_id}/resume", json={"run_input": {"n": "x"}})
    assert refused.status_code == 422
    assert api.get(
        f"/flow_runs/{run_id}/offers", params={"key": "paused-1", "wait": 0}
    ).json() == []
    kinds = api.get("/events", params={"flow_run_id": run_id, "kind": "flow-run.input-"}).json()
    assert [e["details"]["by"] for e in kinds] == ["schema"]


def test_a_run_nothing_beats_for_is_resumed_as_in_the_seed(api: httpx.Client) -> None:
    run_id = paused(api, beat=False)
    resumed = api.post(f"/flow_runs/{run_id}/resume", json={"run_input": {"n": 3}})
    assert resumed.status_code == 200, resumed.text


def test_a_verdict_after_the_bound_changes_nothing(
    app_factory: Callable[..., AppClient],
) -> None:
    api = app_factory(validate_timeout_seconds=0)
    run_id = paused(api)
    # Nobody answers within 0 s: the resume commits, as without the opt-in.
    resumed = api.post(f"/flow_runs/{run_id}/resume", json={"run_input": {"n": 3}})
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["state"]["type"] == "RUNNING"
    # The offer (the first on this fresh app: id 1) expired; a late verdict is refused.
    late = api.post(f"/flow_runs/{run_id}/offers/1", json={"errors": [
        {"loc": [], "msg": "too late", "type": "value_error"}
    ]})
    assert late.status_code == 409
    assert "already decided (expired)" in late.json()["detail"]
    events = api.get("/events", params={"flow_run_id": run_id}).json()
    assert "flow-run.input-rejected" not in [e["kind"] for e in events]
