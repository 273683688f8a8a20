"""GET /deployments says whether a runner is serving each deployment (`runner_online`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from inloop.schemas import Deployment
from inloop.server.store.deployments import with_runner_status

if TYPE_CHECKING:
    from tests.inprocess import AppClient

NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)


def deployment(last_polled: datetime | None) -> Deployment:
    return Deployment(
        id=uuid.uuid4(),
        name="d",
        flow_id=uuid.uuid4(),
        flow_name="f",
        full_name="f/d",
        entrypoint="f.py:f",
        created=NOW - timedelta(days=1),
        last_polled=last_polled,
    )


@pytest.mark.parametrize(
    ("polled_ago", "online"),
    [(0, True), (30, True), (65, True), (66, False), (3600, False), (None, False)],
)
def test_online_within_twice_the_poll_interval_and_slack(
    polled_ago: float | None, online: bool
) -> None:
    polled = None if polled_ago is None else NOW - timedelta(seconds=polled_ago)
    assert with_runner_status(deployment(polled), NOW, poll_seconds=30).runner_online is online


def listed(api: httpx.Client, full_name: str) -> dict[str, Any]:
    found = [d for d in api.get("/deployments").json() if d["full_name"] == full_name]
    assert len(found) == 1, found
    result: dict[str, Any] = found[0]
    return result


def test_a_polling_runner_is_online_and_a_silent_one_goes_offline(
    app_factory: Callable[..., AppClient], wait_for: Callable[..., Any]
) -> None:
    # A 0.5 s poll interval makes the window 2 * 0.5 + 5 s, so "offline" comes within seconds.
    # In process: the app must judge runners by the settings it was made with, not the
    # environment's (it read the environment's once, and said 30 s here).
    api = app_factory(runner_poll_seconds=0.5)
    created = api.post(
        "/deployments",
        json={"flow_name": "status", "name": "d", "entrypoint": "status.py:status"},
    )
    assert created.status_code == 201, created.text
    assert created.json()["runner_online"] is True  # registering is the runner's first poll
    dep_id = created.json()["id"]
    assert listed(api, "status/d")["runner_online"] is True
    assert api.get(f"/deployments/{dep_id}").json()["runner_online"] is True

    # The runner stops polling: once its window has passed, nobody is serving.
    gone = wait_for(lambda: not listed(api, "status/d")["runner_online"], timeout=60)
    assert gone
    assert api.get(f"/deployments/{dep_id}").json()["runner_online"] is False

    # It polls again (a claim long-poll, as `serve()` sends): online again.
    claim = api.post(
        "/runners/claim", json={"deployment_ids": [dep_id], "runner_id": "r1", "wait": 0}
    )
    assert claim.status_code == 200, claim.text
    assert listed(api, "status/d")["runner_online"] is True
