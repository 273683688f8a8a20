"""`inloop deployment ls | run NAME [--param k=v] [--watch]`, with the test acting as runner."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.e2e.processes import cli


def api(server: Any) -> httpx.Client:
    headers = {"authorization": f"Bearer {server.api_key}"} if server.api_key else {}
    return httpx.Client(base_url=server.api_url, headers=headers, timeout=30)



def register(server: Any, flow_name: str, name: str) -> dict[str, Any]:
    with api(server) as http:
        body = {"flow_name": flow_name, "name": name, "entrypoint": f"flows.py:{flow_name}"}
        response = http.post("/deployments", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def test_ls_without_deployments(fresh_server: Any) -> None:
    result = cli(fresh_server, "deployment", "ls")
    assert result.returncode == 0, result.stderr
    assert "No deployments yet" in result.stdout


def test_ls_lists_registered_deployments(server: Any) -> None:
    deployment = register(server, "greeter", "send-receive")
    result = cli(server, "deployment", "ls")
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if "greeter/send-receive" in line)
    assert deployment["id"] in row
    assert "flows.py:greeter" in row
    assert "Runner seen" in result.stdout.splitlines()[0]


def test_run_unknown_deployment_exits_1_listing_known_names(server: Any) -> None:
    register(server, "greeter", "send-receive")
    result = cli(server, "deployment", "run", "greeter/nope")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: ")
    assert "greeter/nope" in result.stderr
    assert "greeter/send-receive" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no-slash"], "flow-name/deployment-name"),
        (["greeter/send-receive", "--param", "oops"], "--param expects key=value"),
    ],
)
def test_run_bad_arguments_exit_1(server: Any, args: list[str], message: str) -> None:
    register(server, "greeter", "send-receive")
    result = cli(server, "deployment", "run", *args)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert message in result.stderr


def test_run_parses_params_and_prints_the_ui_link(server: Any) -> None:
    register(server, "params", "default")
    result = cli(
        server,
        "deployment",
        "run",
        "params/default",
        "--param",
        "n=3",
        "--param",
        "name=andrew",
        "-p",
        'options={"loud": true}',
        "--param",
        "text=a=b",
    )
    assert result.returncode == 0, result.stderr
    with api(server) as http:
        runs = http.get("/flow_runs", params={"flow_name": "params"}).json()
    assert len(runs) == 1
    run = runs[0]
    assert run["state"]["type"] == "SCHEDULED"
    assert run["parameters"] == {"n": 3, "name": "andrew", "options": {"loud": True}, "text": "a=b"}
    assert f"Created flow run {run['name']} ({run['id']})" in result.stdout
    assert f"{server.ui_url}/runs/{run['id']}" in result.stdout


@pytest.mark.parametrize(("final", "code"), [("COMPLETED", 0), ("FAILED", 1)])
def test_run_watch_follows_states_and_logs_until_final(server: Any, final: str, code: int) -> None:
    deployment = register(server, "watched", f"to-{final.lower()}")
    watcher = subprocess.Popen(
        [sys.executable, "-m", "inloop", "deployment", "run", deployment["full_name"], "--watch"],
        env={**os.environ, **server.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with api(server) as http:
            # Play the runner: claim the run, run it, log, finish.
            claim = {"deployment_ids": [deployment["id"]], "runner_id": "test", "wait": 30}
            run = http.post("/runners/claim", json=claim, timeout=60).json()
            assert run is not None
            assert (
                http.post(f"/flow_runs/{run['id']}/set_state", json={"type": "RUNNING"}).status_code
                == 200
            )
            record = {
                "flow_run_id": run["id"],
                "level": 20,
                "logger": "test",
                "message": "working on it",
                "timestamp": datetime.now(UTC).isoformat(),
            }
            assert http.post("/logs", json=[record]).status_code == 201
            # A pause shows the command that resumes it, then the watch goes on.
            paused = http.post(f"/flow_runs/{run['id']}/pause", json={"key": "paused-1"})
            assert paused.status_code == 200, paused.text
            assert watcher.stdout is not None
            seen: list[str] = []
            while not (line := watcher.stdout.readline()).startswith("Waiting for input"):
                assert line, f"the watch ended early: {seen}"
                seen.append(line)
            assert f"inloop flow-run resume {run['id']}" in line
            resumed = http.post(f"/flow_runs/{run['id']}/resume", json={})
            assert resumed.status_code == 200, resumed.text
            ended = http.post(
                f"/flow_runs/{run['id']}/set_state", json={"type": final, "message": "done"}
            )
            assert ended.status_code == 200, ended.text
        # Read the rest through the same text stream: readline() above may already hold the
        # next lines in its buffer, which communicate() (reading the raw pipe) would skip.
        rest = watcher.stdout.read()
        assert watcher.stderr is not None
        err = watcher.stderr.read()
        watcher.wait(timeout=30)
        watcher.stdout.close()
        watcher.stderr.close()
        out = "".join(seen) + line + rest
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.communicate()
    assert watcher.returncode == code, (out, err)
    assert "Traceback" not in err
    assert f"{server.ui_url}/runs/{run['id']}" in out
    assert "| INFO    | working on it" in out, (out, err)
    states = [line.split()[1] for line in out.splitlines() if line.startswith("state ")]
    assert states == ["Scheduled", "Pending", "Running", "Paused", "Running", final.capitalize()]
    assert f"finished: {final.capitalize()}" in out
