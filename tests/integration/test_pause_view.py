"""GET /flow_runs/{id}/pause answers the PauseView model: the same JSON, field for field and in
the same order, as the plain object it answered before the model, and the client reads it
back as that model."""

from __future__ import annotations

from typing import Any

import httpx

from inloop import get_client
from inloop.schemas import PauseView, StateType
from tests.servers import ServerInfo

SCHEMA = {"type": "object", "properties": {"size": {"type": "integer", "default": 3}}}
# The fields, in order, that the route's plain object had.
FIELDS = [
    "key", "schema", "description", "deadline", "reschedule", "on_timeout", "assignees",
    "allow_self_approval", "created_by", "can_answer", "cannot_answer_because",
]


def read_raw(server: ServerInfo, run_id: Any) -> dict[str, Any]:
    with httpx.Client(base_url=server.api_url, timeout=10) as http:
        response = http.get(f"/flow_runs/{run_id}/pause")
    response.raise_for_status()
    found: dict[str, Any] = response.json()
    return found


def test_a_pause_with_everything_set_answers_the_same_json(server: ServerInfo) -> None:
    client = get_client()
    run = client.create_flow_run("pause-view", state=StateType.RUNNING)
    paused = client.pause_flow_run(
        run.id, "ask-1", schema=SCHEMA, description="**How many?**", timeout=600,
        assignees=["bob", "group:ops"], allow_self_approval=False,
    )
    raw = read_raw(server, run.id)
    assert list(raw) == FIELDS
    assert paused.pause is not None and paused.pause.deadline is not None
    assert raw == {
        "key": "ask-1",
        "schema": SCHEMA,
        "description": "**How many?**",
        # The wire form of a UTC time: ISO 8601 with a Z, as before.
        "deadline": paused.pause.deadline.isoformat().replace("+00:00", "Z"),
        "reschedule": False,
        "on_timeout": "fail",
        "assignees": ["bob", "group:ops"],
        "allow_self_approval": False,
        "created_by": run.created_by,
        "can_answer": True,
        "cannot_answer_because": None,
    }
    view = client.read_pause(run.id)
    assert isinstance(view, PauseView)
    assert view.schema_ == SCHEMA
    assert view.deadline == paused.pause.deadline
    # This client is the run's creator, whom the pause refuses; the raw read above was not.
    assert view.can_answer is False
    assert "self-approval not allowed" in (view.cannot_answer_because or "")
    caller = {"can_answer", "cannot_answer_because"}
    assert view.model_dump(mode="json", by_alias=True, exclude=caller) == {
        name: value for name, value in raw.items() if name not in caller
    }


def test_a_pause_without_input_or_deadline_answers_nulls(server: ServerInfo) -> None:
    client = get_client()
    run = client.create_flow_run("pause-view", state=StateType.RUNNING)
    client.pause_flow_run(run.id, "ask-2", timeout=None)
    raw = read_raw(server, run.id)
    assert list(raw) == FIELDS
    assert {name: raw[name] for name in ("schema", "description", "deadline", "assignees")} == {
        "schema": None, "description": None, "deadline": None, "assignees": [],
    }
    view = client.read_pause(run.id)
    assert view.schema_ is None and view.deadline is None and view.can_answer
    assert view.model_dump(mode="json", by_alias=True) == raw
