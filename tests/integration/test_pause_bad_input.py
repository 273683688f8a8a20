"""Resuming a paused run with bad input, at the wrong time, or twice at once: the server says
exactly what was wrong, and a refused resume changes nothing.

Through HTTP on the app in process (tests/inprocess.py); resuming from code and a live flow's
pauses need a real server subprocess."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from pydantic import Field

from inloop.input import RunInput
from inloop.schemas import StateType
from tests.inprocess import AppClient


class UserInput(RunInput):
    name: str = Field(title="Name", description="What should we call you?")
    age: int = Field(title="Age", description="Just a number, nothing more.", ge=0)
    size: Literal["small", "medium", "large"] = "medium"


@pytest.fixture
def api(app_client: AppClient) -> AppClient:
    return app_client


@pytest.fixture
def server_api(server: Any) -> Iterator[httpx.Client]:
    """The API of the subprocess server, for the tests that need one."""
    with httpx.Client(base_url=server.api_url, timeout=60) as http:
        yield http


def new_run(api: httpx.Client) -> dict[str, Any]:
    response = api.post("/flow_runs", json={"flow_name": "bad-input", "state": "RUNNING"})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def paused_run(
    api: httpx.Client,
    input_cls: type[RunInput] | None = UserInput,
    description: str | None = None,
    timeout: float | None = 3600,
) -> dict[str, Any]:
    """A run paused at `paused-1` (no process behind it: these tests only talk to the server)."""
    run = new_run(api)
    body = {
        "key": "paused-1",
        "schema": input_cls.model_json_schema() if input_cls else None,
        "description": description,
        "timeout": timeout,
    }
    response = api.post(f"/flow_runs/{run['id']}/pause", json=body)
    assert response.status_code == 200, response.text
    paused: dict[str, Any] = response.json()
    return paused


def answer_of(api: httpx.Client, run_id: Any) -> dict[str, Any] | None:
    """The stored answer to `paused-1`, None when there is none."""
    response = api.get(f"/flow_runs/{run_id}/input/paused-1-response")
    if response.status_code == 404 and "no input with key" in response.json()["detail"]:
        return None
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def state_of(api: httpx.Client, run_id: Any) -> str:
    return str(api.get(f"/flow_runs/{run_id}").json()["state"]["type"])


def resume(api: httpx.Client, run_id: Any, run_input: Any, **kwargs: Any) -> httpx.Response:
    return api.post(f"/flow_runs/{run_id}/resume", json={"run_input": run_input}, **kwargs)


def error_locs(response: httpx.Response) -> list[list[Any]]:
    return [error["loc"] for error in response.json()["detail"]]


# --- the stored pause --------------------------------------------------------------------------


def test_the_pause_stores_schema_with_titles_defaults_and_the_markdown_description(api) -> None:
    markdown = "**Welcome!**\n\n- **Name**: What should we call you?"
    schema_cls = UserInput.with_initial_data(description=markdown, name="anonymous")
    run = paused_run(api, schema_cls, markdown)
    pause = api.get(f"/flow_runs/{run['id']}/pause").json()
    assert pause["key"] == "paused-1"
    assert pause["description"] == markdown
    name = pause["schema"]["properties"]["name"]
    assert name == {
        "default": "anonymous", "title": "Name", "description": "What should we call you?",
        "type": "string",
    }
    assert pause["schema"]["properties"]["age"]["description"] == "Just a number, nothing more."
    assert pause["schema"]["required"] == ["age"]
    assert pause["deadline"] is not None


def test_reading_the_pause_of_a_run_that_is_not_paused_is_409(api) -> None:
    run = new_run(api)
    response = api.get(f"/flow_runs/{run['id']}/pause")
    assert response.status_code == 409
    assert "state: Running" in response.json()["detail"]


# --- wrong state, unknown run ------------------------------------------------------------------


def test_resuming_a_running_run_is_409_with_its_state(api) -> None:
    run = new_run(api)
    response = resume(api, run["id"], {"name": "a", "age": 1})
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert f"flow run '{run['name']}' is not paused (state: Running)" in detail
    assert "only paused or suspended runs can be resumed" in detail


def test_resuming_a_finished_run_is_409_with_its_state(api) -> None:
    run = new_run(api)
    completed = api.post(f"/flow_runs/{run['id']}/set_state", json={"type": "COMPLETED"})
    assert completed.status_code == 200, completed.text
    response = resume(api, run["id"], None)
    assert response.status_code == 409
    assert "(state: Completed)" in response.json()["detail"]


def test_resuming_twice_is_409_the_second_time(api) -> None:
    run = paused_run(api)
    assert resume(api, run["id"], {"name": "ada", "age": 36}).status_code == 200
    second = resume(api, run["id"], {"name": "bob", "age": 40})
    assert second.status_code == 409
    assert "(state: Running)" in second.json()["detail"]
    answer = answer_of(api, run["id"])
    assert answer is not None
    assert answer["value"] == {"name": "ada", "age": 36}


# A fixed id: pytest-xdist workers must collect the same test names.
@pytest.mark.parametrize(
    "run_id",
    ["6f6ffa6d-bb9a-4493-aead-9909a5805719", "not-a-uuid"],
    ids=["unknown-uuid", "not-a-uuid"],
)
def test_resuming_an_unknown_run_is_404(api, run_id) -> None:
    response = resume(api, run_id, {"name": "a", "age": 1})
    assert response.status_code == 404
    assert run_id in response.json()["detail"]


# --- input that does not match the schema: 422 naming each field, run stays PAUSED -------------


@pytest.mark.parametrize(
    ("run_input", "locs", "words"),
    [
        ({"name": "ada", "age": "old"}, [["run_input", "age"]], ["'old' is not of type 'integer'"]),
        ({"name": 7, "age": -1}, [["run_input", "age"], ["run_input", "name"]],
         ["minimum", "7 is not of type 'string'"]),
        ({"name": "ada"}, [["run_input", "age"]], ["field 'age' is required"]),
        ({}, [["run_input", "age"], ["run_input", "name"]], ["'age'", "'name'"]),
        ({"name": "ada", "age": 3, "shoe_size": 44}, [["run_input"]], ["shoe_size"]),
        ({"name": "ada", "age": 3, "size": "tiny"}, [["run_input", "size"]], ["'tiny'"]),
        ({"name": None, "age": 3.5, "extra": 1}, [["run_input"], ["run_input", "age"],
                                                 ["run_input", "name"]], ["extra", "3.5"]),
    ],
    ids=["wrong-type", "two-fields", "missing", "empty-object", "extra", "not-a-choice", "all"],
)
def test_input_violating_the_schema_is_422_naming_each_field(api, run_input, locs, words) -> None:
    run = paused_run(api)
    response = resume(api, run["id"], run_input)
    assert response.status_code == 422, response.text
    assert sorted(error_locs(response)) == sorted(locs)
    text = " ".join(error["msg"] for error in response.json()["detail"])
    for word in words:
        assert word in text
    assert state_of(api, run["id"]) == "PAUSED"
    assert answer_of(api, run["id"]) is None
    # The right answer still goes through afterwards.
    assert resume(api, run["id"], {"name": "ada", "age": 36}).status_code == 200


def test_no_run_input_for_a_run_waiting_for_required_fields_is_422_naming_them(api) -> None:
    # Without input the defaults apply (size), so only the fields without one are missing.
    run = paused_run(api)
    for response in (
        resume(api, run["id"], None),
        api.post(f"/flow_runs/{run['id']}/resume", json={}),
        api.post(f"/flow_runs/{run['id']}/resume"),
    ):
        assert response.status_code == 422
        assert sorted(error_locs(response)) == [["run_input", "age"], ["run_input", "name"]]
        assert "field 'name' is required" in response.text
    assert state_of(api, run["id"]) == "PAUSED"


def test_run_input_that_is_not_an_object_is_422(api) -> None:
    run = paused_run(api)
    response = resume(api, run["id"], ["ada", 36])
    assert response.status_code == 422
    assert state_of(api, run["id"]) == "PAUSED"


def test_input_for_a_pause_that_asked_for_none_is_422(api) -> None:
    run = paused_run(api, None)
    response = resume(api, run["id"], {"name": "ada"})
    assert response.status_code == 422
    assert "paused without asking for input" in response.json()["detail"][0]["msg"]
    assert state_of(api, run["id"]) == "PAUSED"
    assert resume(api, run["id"], None).status_code == 200
    assert state_of(api, run["id"]) == "RUNNING"


def test_a_malformed_body_is_422(api) -> None:
    run = paused_run(api)
    response = api.post(
        f"/flow_runs/{run['id']}/resume",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    response = api.post(f"/flow_runs/{run['id']}/resume", json={"run_input": {}, "extra": 1})
    assert response.status_code == 422
    assert state_of(api, run["id"]) == "PAUSED"


def test_oversized_input_is_413_and_the_run_stays_paused(
    app_factory: Callable[..., AppClient],
) -> None:
    small = app_factory(max_request_bytes=4096)
    run = paused_run(small)
    response = resume(small, run["id"], {"name": "x" * 10_000, "age": 1})
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]
    assert state_of(small, run["id"]) == "PAUSED"
    assert resume(small, run["id"], {"name": "ada", "age": 1}).status_code == 200


# --- who resumed -------------------------------------------------------------------------------


def test_who_resumed_is_in_the_state_history(api) -> None:
    run = paused_run(api)
    response = resume(api, run["id"], {"name": "ada", "age": 36}, headers={"x-inloop-actor": "ada"})
    assert response.status_code == 200
    # Open mode (no API key): the server names the declared user as a local one.
    assert response.json()["state"]["details"]["resumed_by"] == "local:ada"
    history = api.get(f"/flow_runs/{run['id']}/states").json()
    types = [state["type"] for state in history]
    assert types[-2:] == ["PAUSED", "RUNNING"]
    resumed = history[-1]
    assert resumed["details"] == {"resumed_by": "local:ada", "pause_key": "paused-1"}
    assert resumed["timestamp"] >= history[-2]["timestamp"]


def test_resume_flow_run_from_code_records_the_user_and_host(server_api) -> None:
    import getpass
    import socket

    from inloop import resume_flow_run

    run = paused_run(server_api)
    resumed = resume_flow_run(run["id"], UserInput(name="ada", age=36))
    assert resumed.state.type is StateType.RUNNING
    history = server_api.get(f"/flow_runs/{run['id']}/states").json()
    expected = f"local:{getpass.getuser()}@{socket.gethostname()}"
    assert history[-1]["details"]["resumed_by"] == expected


# --- two resumes at once -----------------------------------------------------------------------


def race(
    connect: Callable[[], contextlib.AbstractContextManager[httpx.Client]],
    run_id: Any,
    inputs: list[Any],
) -> list[httpx.Response]:
    """POST every resume at the same instant, each from its own thread (and `connect()`)."""
    barrier = threading.Barrier(len(inputs))
    responses: list[httpx.Response | None] = [None] * len(inputs)

    def go(i: int) -> None:
        with connect() as http:
            http.get("/health")  # connect first, so the POSTs leave together
            barrier.wait()
            responses[i] = resume(http, run_id, inputs[i])

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(inputs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert all(r is not None for r in responses)
    return [r for r in responses if r is not None]


def test_concurrent_resumes_exactly_one_wins(api) -> None:
    # In process the requests share one client; the app serves them at once on its loop.
    for attempt in range(10):
        run = paused_run(api)
        inputs = [{"name": f"first-{attempt}", "age": 1}, {"name": f"second-{attempt}", "age": 2}]
        responses = race(lambda: contextlib.nullcontext(api), run["id"], inputs)
        assert sorted(r.status_code for r in responses) == [200, 409], [r.text for r in responses]
        loser = next(r for r in responses if r.status_code == 409)
        assert "not paused (state: Running)" in loser.json()["detail"]
        winner = inputs[[r.status_code for r in responses].index(200)]
        stored = answer_of(api, run["id"])
        assert stored is not None
        assert stored["value"] == winner
        history = api.get(f"/flow_runs/{run['id']}/states").json()
        assert [s["type"] for s in history].count("RUNNING") == 2  # started, resumed once


FLOWS_DIR = Path(__file__).resolve().parents[1] / "flows"
FLOW_PAUSING_FOR_INTS = FLOWS_DIR / "many_int_pauses.py"


def test_concurrent_resumes_of_a_live_flow_deliver_one_input(
    server, server_api, tmp_path, run_flow_script: Callable[..., Any], wait_for: Callable[..., Any]
) -> None:
    api = server_api
    before = {r["id"] for r in api.get("/flow_runs", params={"flow_name": "many-pauses"}).json()}
    process = run_flow_script(FLOW_PAUSING_FOR_INTS)

    def paused_at(key: str) -> Callable[[], Any]:
        def check() -> Any:
            assert process.poll() is None, process.communicate()
            found = api.get("/flow_runs", params={"flow_name": "many-pauses"}).json()
            for run in found:
                if run["id"] not in before and run["state"]["type"] == "PAUSED" \
                        and run["pause"]["key"] == key:
                    return run
            return None
        return check

    winners = []
    for i in range(1, 11):
        run = wait_for(paused_at(f"paused-{i}"))
        inputs = [{"value": i * 100 + 1}, {"value": i * 100 + 2}]
        responses = race(
            lambda: httpx.Client(base_url=server.api_url, timeout=10), run["id"], inputs
        )
        assert sorted(r.status_code for r in responses) == [200, 409], [r.text for r in responses]
        winners.append(inputs[[r.status_code for r in responses].index(200)]["value"])
        (tmp_path / f"go-{i}").touch()  # the script runs in tmp_path
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err

    def got() -> list[str]:
        logged = [r["message"] for r in api.get(f"/flow_runs/{run['id']}/logs").json()]
        found = [m for m in logged if m.startswith("got ")]
        return found if len(found) >= len(winners) else []

    assert wait_for(got) == [f"got {value}" for value in winners]
    assert api.get(f"/flow_runs/{run['id']}").json()["state"]["type"] == "COMPLETED"
