"""Each seed example of "Pause or suspend a flow until it receives input" ... "Handle custom
validation", run as a script the way a user would, resumed through the HTTP API and the CLI."""

from __future__ import annotations

import getpass
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
GREET = "greet-user"
SHIRT = "get-shirt-order"


def run_ids(api: httpx.Client, flow_name: str) -> set[str]:
    found = api.get("/flow_runs", params={"flow_name": flow_name, "limit": 1000}).json()
    return {run["id"] for run in found}


def start(
    run_flow_script: Callable[..., subprocess.Popen[str]],
    wait_for: Callable[..., Any],
    api: httpx.Client,
    example: str,
    flow_name: str,
) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """Run an example and return its process and its run, once the run is PAUSED."""
    before = run_ids(api, flow_name)
    process = run_flow_script(EXAMPLES / example)

    def paused() -> dict[str, Any] | None:
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"{example} exited ({process.returncode}) before pausing:\n{out}\n{err}")
        for run_id in run_ids(api, flow_name) - before:
            run = api.get(f"/flow_runs/{run_id}").json()
            if run["state"]["type"] == "PAUSED":
                return dict(run)
        return None

    return process, wait_for(paused)


def resume(api: httpx.Client, run_id: str, run_input: dict[str, Any] | None) -> dict[str, Any]:
    response = api.post(f"/flow_runs/{run_id}/resume", json={"run_input": run_input})
    assert response.status_code == 200, response.text
    return dict(response.json())


def resume_with_cli(server: Any, run_id: str, run_input: Any) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "inloop", "flow-run", "resume", run_id,
         "--input", json.dumps(run_input)],
        env={**os.environ, **server.env, "COLUMNS": "200"},
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    return result.stdout


def finish(process: subprocess.Popen[str], expect_code: int = 0) -> tuple[str, str]:
    out, err = process.communicate(timeout=30)
    assert process.returncode == expect_code, f"exit {process.returncode}\n{out}\n{err}"
    return out, err


def messages(api: httpx.Client, run_id: str) -> list[str]:
    return [record["message"] for record in api.get(f"/flow_runs/{run_id}/logs").json()]


def final_state(api: httpx.Client, run_id: str) -> dict[str, Any]:
    return dict(api.get(f"/flow_runs/{run_id}").json()["state"])


def pause_of(api: httpx.Client, run_id: str) -> dict[str, Any]:
    response = api.get(f"/flow_runs/{run_id}/pause")
    assert response.status_code == 200, response.text
    return dict(response.json())


# --- built-in type: str ------------------------------------------------------------------------


@pytest.mark.parametrize("via", ["api", "cli"])
def test_str_example(server, api, run_flow_script, wait_for, via) -> None:
    process, run = start(run_flow_script, wait_for, api, "pause_builtin_type.py", GREET)
    schema = pause_of(api, run["id"])["schema"]
    assert schema["required"] == ["value"]
    assert schema["properties"]["value"]["type"] == "string"
    if via == "api":
        resume(api, run["id"], {"value": "andrew"})
    else:
        # A bare JSON string is taken as the single `value` field.
        printed = resume_with_cli(server, run["id"], "andrew")
        assert run["name"] in printed
    finish(process)
    assert "Hello, andrew!" in messages(api, run["id"])
    assert final_state(api, run["id"])["type"] == "COMPLETED"
    # Who resumed is in the history: the CLI declares its user, a bare HTTP call is anonymous;
    # with no API key the server calls either `local:<declared user>`.
    history = api.get(f"/flow_runs/{run['id']}/states").json()
    after_pause = history[[s["type"] for s in history].index("PAUSED") + 1]
    assert after_pause["type"] == "RUNNING"
    declared = f"{getpass.getuser()}@{socket.gethostname()}" if via == "cli" else "anonymous"
    expected = f"local:{declared}"
    assert after_pause["details"]["resumed_by"] == expected


# --- BaseModel and RunInput --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("example", "via"),
    [("pause_basemodel.py", "api"), ("pause_run_input.py", "api"), ("pause_run_input.py", "cli")],
)
def test_user_examples(server, api, run_flow_script, wait_for, example, via) -> None:
    process, run = start(run_flow_script, wait_for, api, example, GREET)
    schema = pause_of(api, run["id"])["schema"]
    assert schema["required"] == ["name", "age"]
    assert schema["additionalProperties"] is False
    answer = {"name": "andrew", "age": 36}
    if via == "api":
        resume(api, run["id"], answer)
    else:
        resume_with_cli(server, run["id"], answer)
    finish(process)
    assert "Hello, andrew!" in messages(api, run["id"])
    assert final_state(api, run["id"])["type"] == "COMPLETED"


# --- with_initial_data and a Markdown description ----------------------------------------------


@pytest.mark.parametrize("example", ["pause_initial_data.py", "pause_description.py"])
@pytest.mark.parametrize(
    ("answer", "greeting"),
    [({"age": 36}, "Hello, stranger!"), ({"name": "andrew", "age": 36}, "Hello, andrew!")],
    ids=["default-name", "given-name"],
)
def test_initial_data_examples(api, run_flow_script, wait_for, example, answer, greeting) -> None:
    process, run = start(run_flow_script, wait_for, api, example, GREET)
    pause = pause_of(api, run["id"])
    name = pause["schema"]["properties"]["name"]
    assert name["default"] == "anonymous"
    assert name["title"] == "Name"
    assert pause["schema"]["required"] == ["age"]
    if example == "pause_description.py":
        description = pause["description"]
        assert "**Welcome to the User Greeting Flow!**" in description
        assert "- **Age**: Just a number, nothing more." in description
        assert "Today's Date: " in description
        assert run["pause"]["description"] == description
    else:
        assert pause["description"] is None
    resume(api, run["id"], answer)
    finish(process)
    assert greeting in messages(api, run["id"])
    assert final_state(api, run["id"])["type"] == "COMPLETED"


# --- custom validation -------------------------------------------------------------------------


def test_shirt_order_schema_offers_the_literal_choices(api, run_flow_script, wait_for) -> None:
    process, run = start(run_flow_script, wait_for, api, "pause_shirt_order.py", SHIRT)
    props = pause_of(api, run["id"])["schema"]["properties"]
    assert props["size"]["enum"] == ["small", "medium", "large", "xlarge"]
    assert props["color"]["enum"] == ["red", "green", "black"]
    # A value outside the choices never reaches the flow: the server refuses it.
    refused = api.post(
        f"/flow_runs/{run['id']}/resume", json={"run_input": {"size": "tiny", "color": "red"}}
    )
    assert refused.status_code == 422
    assert [e["loc"] for e in refused.json()["detail"]] == [["run_input", "size"]]
    resume(api, run["id"], {"size": "large", "color": "green"})
    finish(process)
    assert final_state(api, run["id"])["type"] == "COMPLETED"


def test_shirt_order_fails_when_the_validator_refuses(api, run_flow_script, wait_for) -> None:
    process, run = start(run_flow_script, wait_for, api, "pause_shirt_order.py", SHIRT)
    resume(api, run["id"], {"size": "small", "color": "green"})
    _, err = finish(process, expect_code=1)
    assert "ValidationError" in err
    state = final_state(api, run["id"])
    assert state["type"] == "FAILED"
    assert "ValidationError" in state["message"]
    assert "Green is only in-stock for medium, large, and XL sizes." in state["message"]
    assert any("Green is only in-stock" in m for m in messages(api, run["id"]))


def test_shirt_order_loop_pauses_again_until_the_order_is_valid(
    server, api, run_flow_script, wait_for
) -> None:
    process, run = start(run_flow_script, wait_for, api, "pause_shirt_order_loop.py", SHIRT)
    assert run["pause"]["key"] == "paused-1"
    resume(api, run["id"], {"size": "small", "color": "green"})

    def paused_again() -> dict[str, Any] | None:
        current = api.get(f"/flow_runs/{run['id']}").json()
        if current["state"]["type"] == "PAUSED" and current["pause"]["key"] == "paused-2":
            return dict(current)
        return None

    wait_for(paused_again)

    def logged_errors() -> list[str]:
        logged = messages(api, run["id"])
        return [m for m in logged if m.startswith("Invalid size and color combination:")]

    # Logs are shipped in batches, so the error may reach the server just after the pause.
    errors = wait_for(logged_errors)
    assert len(errors) == 1
    assert "Green is only in-stock for medium, large, and XL sizes." in errors[0]

    resume_with_cli(server, run["id"], {"size": "medium", "color": "green"})
    finish(process)
    logged = messages(api, run["id"])
    assert "Shirt order: medium, green" in logged
    assert final_state(api, run["id"])["type"] == "COMPLETED"
    history = api.get(f"/flow_runs/{run['id']}/states").json()
    assert [s["type"] for s in history].count("PAUSED") == 2


# --- the CLI sees what waits -------------------------------------------------------------------


def test_paused_example_is_listed_by_the_cli(server, api, run_flow_script, wait_for) -> None:
    process, run = start(run_flow_script, wait_for, api, "pause_description.py", GREET)
    env = {**os.environ, **server.env, "COLUMNS": "250"}
    for command in (["flow-run", "ls", "--state", "paused"], ["inbox"]):
        result = subprocess.run(
            [sys.executable, "-m", "inloop", *command],
            env=env, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
        )
        assert result.returncode == 0, result.stderr
        assert run["name"] in result.stdout or run["id"] in result.stdout, result.stdout
    resume(api, run["id"], {"name": "andrew", "age": 36})
    finish(process)
