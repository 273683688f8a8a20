"""`inloop flow-run resume`: with --input, and prompting field by field in a real terminal."""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.processes import cli

ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\r")

APPROVAL_SCHEMA: dict[str, Any] = {
    "$defs": {
        "Color": {"enum": ["red", "green", "blue"], "title": "Color", "type": "string"},
    },
    "additionalProperties": False,
    "properties": {
        "name": {"title": "Your name", "description": "Who approves the release", "type": "string"},
        "age": {"title": "Age", "description": "In whole years", "type": "integer", "minimum": 0},
        "approve": {"title": "Approve", "type": "boolean", "default": True},
        "size": {"title": "Size", "enum": ["s", "m", "l"], "type": "string", "default": "m"},
        "color": {"$ref": "#/$defs/Color", "default": "red"},
        "tags": {"title": "Tags", "type": "array", "items": {"type": "integer"}, "default": []},
        "note": {
            "title": "Note",
            "anyOf": [{"type": "string"}, {"type": "null"}],
            "default": None,
        },
    },
    "required": ["name", "age"],
    "title": "Approval",
    "type": "object",
}
DESCRIPTION = "# Approve the release\n\nCheck **the changelog** first."


def api(server: Any) -> httpx.Client:
    headers = {"authorization": f"Bearer {server.api_key}"} if server.api_key else {}
    return httpx.Client(base_url=server.api_url, headers=headers, timeout=30)


def paused_run(
    server: Any, schema: dict[str, Any] | None, description: str | None = DESCRIPTION
) -> dict[str, Any]:
    """A RUNNING run paused through the HTTP API, as a flow's pause_flow_run would."""
    with api(server) as http:
        run = http.post("/flow_runs", json={"flow_name": "cli-approval", "state": "RUNNING"})
        assert run.status_code == 201, run.text
        body = {"key": "paused-1", "schema": schema, "description": description}
        paused = http.post(f"/flow_runs/{run.json()['id']}/pause", json=body)
        assert paused.status_code == 200, paused.text
    result: dict[str, Any] = paused.json()
    return result



def read(server: Any, run_id: str) -> tuple[dict[str, Any], list[dict[str, Any]], Any]:
    """The run, its state history and the stored response to its pause."""
    with api(server) as http:
        run = http.get(f"/flow_runs/{run_id}").json()
        states = http.get(f"/flow_runs/{run_id}/states").json()
        response = http.get(f"/flow_runs/{run_id}/input/paused-1-response")
    return run, states, response.json()["value"] if response.status_code == 200 else None


def assert_resumed_by_cli_user(states: list[dict[str, Any]]) -> None:
    paused, resumed = states[-2], states[-1]
    assert paused["type"] == "PAUSED"
    assert resumed["type"] == "RUNNING"
    actor = resumed["details"]["resumed_by"]
    # Open mode: `local:` and the user@host the CLI's client declares.
    assert actor.startswith("local:") and "@" in actor
    assert resumed["timestamp"]


# --- --input -----------------------------------------------------------------------------------


def test_resume_with_input_records_the_answer_and_the_actor(server: Any) -> None:
    run = paused_run(server, APPROVAL_SCHEMA)
    result = cli(server, "flow-run", "resume", run["id"], "--input", '{"name": "ada", "age": 36}')
    assert result.returncode == 0, result.stderr
    assert f"Resumed flow run {run['name']}" in result.stdout
    after, states, answer = read(server, run["id"])
    assert after["state"]["type"] == "RUNNING"
    assert answer == {"name": "ada", "age": 36}
    assert_resumed_by_cli_user(states)

    inspected = cli(server, "flow-run", "inspect", run["id"])
    assert states[-1]["details"]["resumed_by"] in inspected.stdout


def test_resume_with_bad_json_exits_1_naming_the_problem(server: Any) -> None:
    run = paused_run(server, APPROVAL_SCHEMA)
    result = cli(server, "flow-run", "resume", run["id"], "--input", "{name: ada}")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: --input is not valid JSON")
    assert "{name: ada}" in result.stderr
    assert read(server, run["id"])[0]["state"]["type"] == "PAUSED"


def test_resume_with_a_non_object_input_exits_1(server: Any) -> None:
    run = paused_run(server, APPROVAL_SCHEMA)
    result = cli(server, "flow-run", "resume", run["id"], "--input", "[1, 2]")
    assert result.returncode == 1
    assert "must be a JSON object" in result.stderr


def test_resume_with_invalid_input_lists_each_field(server: Any) -> None:
    run = paused_run(server, APPROVAL_SCHEMA)
    result = cli(server, "flow-run", "resume", run["id"], "--input", '{"name": 5, "extra": 1}')
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "run_input.name" in result.stderr
    assert "age" in result.stderr
    assert "extra" in result.stderr
    assert read(server, run["id"])[0]["state"]["type"] == "PAUSED"


def test_resume_of_a_bare_value_for_a_plain_type(server: Any) -> None:
    schema = {"properties": {"value": {"type": "integer"}}, "required": ["value"], "type": "object"}
    run = paused_run(server, schema, None)
    result = cli(server, "flow-run", "resume", run["id"], "--input", "42")
    assert result.returncode == 0, result.stderr
    assert read(server, run["id"])[2] == {"value": 42}


def test_resume_without_schema_needs_no_input(server: Any) -> None:
    run = paused_run(server, None, None)
    result = cli(server, "flow-run", "resume", run["id"])
    assert result.returncode == 0, result.stderr
    after, states, _ = read(server, run["id"])
    assert after["state"]["type"] == "RUNNING"
    assert_resumed_by_cli_user(states)


def test_resume_without_input_and_without_a_terminal_exits_1(server: Any) -> None:
    run = paused_run(server, APPROVAL_SCHEMA)
    result = cli(server, "flow-run", "resume", run["id"])
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "--input" in result.stderr
    assert '"name"' in result.stderr and '"age"' in result.stderr
    assert read(server, run["id"])[0]["state"]["type"] == "PAUSED"


def test_resume_of_a_run_that_is_not_paused_exits_1_with_its_state(server: Any) -> None:
    with api(server) as http:
        run = http.post("/flow_runs", json={"flow_name": "cli-approval", "state": "RUNNING"}).json()
    result = cli(server, "flow-run", "resume", run["id"], "--input", "{}")
    assert result.returncode == 1
    assert "not paused" in result.stderr and "Running" in result.stderr
    assert "Traceback" not in result.stderr


# --- prompting in a terminal -------------------------------------------------------------------


class Terminal:
    """The CLI on a pseudo-terminal: `expect` what it shows, `send` what a person types."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))
        self.process = subprocess.Popen(
            args, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
        )
        os.close(slave)
        self.master = master
        self.output = ""
        self.seen = 0

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: the child closed the terminal
            return False
        if not data:
            return False
        self.output += ANSI.sub("", data.decode(errors="replace"))
        return True

    def expect(self, text: str, timeout: float = 30) -> str:
        """Wait until `text` appears after what was already expected; return what came before."""
        deadline = time.monotonic() + timeout
        while (found := self.output.find(text, self.seen)) < 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._read(min(remaining, 0.5)):
                if self.output.find(text, self.seen) >= 0:
                    break
                if remaining <= 0 or self.process.poll() is not None:
                    pytest.fail(f"{text!r} never appeared; the terminal showed:\n{self.output}")
        found = self.output.find(text, self.seen)
        before = self.output[self.seen : found]
        self.seen = found + len(text)
        return before

    def send(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\r")

    def finish(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            self._read(0.1)
        while select.select([self.master], [], [], 0.05)[0] and self._read(0):
            pass  # what the process wrote just before it exited
        return self.process.wait(max(0.1, deadline - time.monotonic()))

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        os.close(self.master)


@pytest.fixture
def terminal(server: Any) -> Iterator[Any]:
    opened: list[Terminal] = []

    def open_terminal(*args: str) -> Terminal:
        env = {**os.environ, **server.env, "TERM": "dumb", "COLUMNS": "160"}
        term = Terminal([sys.executable, "-m", "inloop", *args], env)
        opened.append(term)
        return term

    yield open_terminal
    for term in opened:
        term.close()


def test_resume_prompts_for_each_field_and_reasks_invalid_answers(
    server: Any, terminal: Any
) -> None:
    run = paused_run(server, APPROVAL_SCHEMA)
    term = terminal("flow-run", "resume", run["id"])

    term.expect("Approve the release")  # the Markdown description, rendered
    term.expect("Check the changelog first.")
    term.expect("Who approves the release")  # help text
    term.expect("Your name: ")
    term.send("")  # required: asked again
    term.expect("a value is required")
    term.expect("Your name: ")
    term.send("ada")

    term.expect("In whole years")
    term.expect("Age: ")
    term.send("many")
    term.expect("is not a whole number")
    term.expect("Age: ")
    term.send("-3")
    term.expect("less than the minimum of 0")  # checked against the field's schema
    term.expect("Age: ")
    term.send("36")

    term.expect("Approve (y/n) [y]: ")
    term.send("perhaps")
    term.expect("answer y or n")
    term.expect("Approve (y/n) [y]: ")
    term.send("n")

    term.expect("Size (s/m/l) [m]: ")
    term.send("xl")
    term.expect("not one of the choices: s, m, l")
    term.expect("Size (s/m/l) [m]: ")
    term.send("")  # the default

    term.expect("Color (red/green/blue) [red]: ")  # an enum behind a $ref
    term.send("BLUE")

    term.expect("Tags (comma-separated or JSON list) [[]]: ")
    term.send("1, two")
    term.expect("'two' is not a whole number")
    term.expect("Tags (comma-separated or JSON list) [[]]: ")
    term.send("1, 2")

    term.expect("Note [none]: ")
    term.send("")

    term.expect(f"Resumed flow run {run['name']}")
    assert term.finish() == 0, term.output

    after, states, answer = read(server, run["id"])
    assert after["state"]["type"] == "RUNNING"
    assert answer == {
        "name": "ada",
        "age": 36,
        "approve": False,
        "size": "m",
        "color": "blue",
        "tags": [1, 2],
        "note": None,
    }
    assert_resumed_by_cli_user(states)


def test_resume_reasks_the_fields_the_server_rejects(server: Any, terminal: Any) -> None:
    # Each answer is valid for its own field; only the whole input breaks the rule, so the
    # server's 422 is what sends the person back to `limit`.
    schema = {
        "type": "object",
        "properties": {
            "urgent": {"title": "Urgent", "type": "boolean"},
            "limit": {"title": "Limit", "type": "integer"},
        },
        "required": ["urgent", "limit"],
        "if": {"properties": {"urgent": {"const": True}}},
        "then": {"properties": {"limit": {"minimum": 10}}},
    }
    run = paused_run(server, schema, None)
    term = terminal("flow-run", "resume", run["id"])
    term.expect("Urgent (y/n): ")
    term.send("y")
    term.expect("Limit: ")
    term.send("5")
    term.expect("The server rejected the input")
    term.expect("limit: 5 is less than the minimum of 10")
    term.expect("Limit: ")
    term.send("12")
    term.expect("Resumed flow run")
    assert term.finish() == 0, term.output
    assert read(server, run["id"])[2] == {"urgent": True, "limit": 12}
