"""`inloop flow-run ls | inspect | logs | cancel`, run as a subprocess against a real server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

FLOWS_DIR = Path(__file__).resolve().parents[1] / "flows"
FLOW_SCRIPT = FLOWS_DIR / "cli_logs.py"


def cli(
    server: Any, *args: str, timeout: float = 60, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inloop", *args],
        env={**os.environ, **server.env},
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        **kwargs,
    )


def api(server: Any) -> httpx.Client:
    headers = {"authorization": f"Bearer {server.api_key}"} if server.api_key else {}
    return httpx.Client(base_url=server.api_url, headers=headers, timeout=30)


def assert_clean_error(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    for text in expected:
        assert text in lines[0]


@pytest.fixture(scope="module")
def finished_run(server: Any) -> dict[str, Any]:
    """A real flow run, executed by a flow script, that logged two lines and completed."""
    done = subprocess.run(
        [sys.executable, str(FLOW_SCRIPT)],
        env={**os.environ, **server.env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    with api(server) as http:
        runs = http.get("/flow_runs", params={"flow_name": "cli-logs"}).json()
    assert len(runs) == 1
    run: dict[str, Any] = runs[0]
    return run


def test_ls_lists_the_run_with_its_state(server: Any, finished_run: dict[str, Any]) -> None:
    result = cli(server, "flow-run", "ls")
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    for column in ("ID", "Name", "Flow", "State", "Created", "Updated", "Deployment"):
        assert column in header
    row = next(r for r in rows if finished_run["id"] in r)
    assert finished_run["name"] in row
    assert "cli-logs" in row
    assert "Completed" in row


def test_ls_filters_by_state_in_any_case_and_by_flow(
    server: Any, finished_run: dict[str, Any]
) -> None:
    with api(server) as http:
        running = http.post("/flow_runs", json={"flow_name": "cli-other", "state": "RUNNING"})
    running_id = running.json()["id"]

    completed = cli(server, "flow-run", "ls", "--state", "CoMpLeTeD")
    assert completed.returncode == 0, completed.stderr
    assert finished_run["id"] in completed.stdout
    assert running_id not in completed.stdout

    by_flow = cli(server, "flow-run", "ls", "--flow", "cli-other", "--limit", "5")
    assert running_id in by_flow.stdout
    assert finished_run["id"] not in by_flow.stdout

    nothing = cli(server, "flow-run", "ls", "--state", "paused", "--flow", "cli-logs")
    assert nothing.returncode == 0
    assert "No flow runs found" in nothing.stdout


def test_ls_rejects_an_unknown_state(server: Any) -> None:
    result = cli(server, "flow-run", "ls", "--state", "sleepy")
    assert_clean_error(result, "unknown state 'sleepy'", "paused")


def test_inspect_shows_fields_and_state_history(server: Any, finished_run: dict[str, Any]) -> None:
    result = cli(server, "flow-run", "inspect", finished_run["id"])
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert finished_run["id"] in out
    assert finished_run["name"] in out
    assert '{"n": 7}' in out
    assert "State history" in out
    history = out.split("State history", 1)[1]
    positions = [history.index(state) for state in ("Pending", "Running", "Completed")]
    assert positions == sorted(positions)


def test_logs_prints_each_record_in_the_console_format(
    server: Any, finished_run: dict[str, Any]
) -> None:
    result = cli(server, "flow-run", "logs", finished_run["id"])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    hello = next(line for line in lines if "hello number 7" in line)
    stamp, level, message = (part.strip() for part in hello.split(" | ", 2))
    assert len(stamp) == len("HH:MM:SS.mmm") and stamp[2] == ":" and stamp[8] == "."
    assert level == "INFO"
    assert message == "hello number 7"
    assert any(line.split(" | ")[1] == "WARNING" for line in lines if "careful now" in line)


def test_logs_follow_of_a_finished_run_returns_at_once(
    server: Any, finished_run: dict[str, Any]
) -> None:
    started = time.monotonic()
    result = cli(server, "flow-run", "logs", "--follow", finished_run["id"])
    assert result.returncode == 0, result.stderr
    assert "hello number 7" in result.stdout
    assert time.monotonic() - started < 10


def test_logs_follow_streams_until_the_run_ends(server: Any) -> None:
    with api(server) as http:
        run = http.post("/flow_runs", json={"flow_name": "cli-follow", "state": "RUNNING"}).json()

        def log(message: str) -> None:
            record = {
                "flow_run_id": run["id"],
                "level": 20,
                "logger": "test",
                "message": message,
                "timestamp": datetime.now(UTC).isoformat(),
            }
            assert http.post("/logs", json=[record]).status_code == 201

        log("before follow")
        follower = subprocess.Popen(
            [sys.executable, "-m", "inloop", "flow-run", "logs", run["id"], "--follow"],
            env={**os.environ, **server.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert follower.stdout is not None
            assert "before follow" in follower.stdout.readline()
            log("while following")
            assert "while following" in follower.stdout.readline()
            assert follower.poll() is None, "follow ended while the run was still running"
            log("last words")
            done = http.post(f"/flow_runs/{run['id']}/set_state", json={"type": "COMPLETED"})
            assert done.status_code == 200, done.text
            out, err = follower.communicate(timeout=20)
        finally:
            if follower.poll() is None:
                follower.kill()
                follower.communicate()
    assert follower.returncode == 0, err
    assert "last words" in out


def test_cancel_moves_a_running_run_to_cancelled(server: Any) -> None:
    with api(server) as http:
        run = http.post("/flow_runs", json={"flow_name": "cli-cancel", "state": "RUNNING"}).json()
        result = cli(server, "flow-run", "cancel", run["id"])
        assert result.returncode == 0, result.stderr
        assert f"Cancelled flow run {run['name']}" in result.stdout
        after = http.get(f"/flow_runs/{run['id']}").json()
        history = http.get(f"/flow_runs/{run['id']}/states").json()
    assert after["state"]["type"] == "CANCELLED"
    assert history[-1]["details"]["cancelled_by"]

    again = cli(server, "flow-run", "cancel", run["id"])
    assert_clean_error(again, run["name"], "Cancelled")


CANCELLED_SCRIPTS = {
    "running-sync": FLOWS_DIR / "cancel_running_sync.py",
    "running-async": FLOWS_DIR / "cancel_running_async.py",
    "tasks": FLOWS_DIR / "cancel_tasks.py",
    "paused-sync": FLOWS_DIR / "cancel_paused_sync.py",
}


@pytest.mark.parametrize("case", list(CANCELLED_SCRIPTS))
def test_cancel_stops_the_flow_process_with_one_line(
    server: Any, run_flow_script: Any, wait_for: Any, case: str
) -> None:
    # A quick heartbeat so a running flow hears of the cancel soon (the default is 5 s); a
    # flow of tasks is stopped before its next task, so there no heartbeat comes in time.
    interval = "600" if case == "tasks" else "0.5"
    process = run_flow_script(
        CANCELLED_SCRIPTS[case], env={"INLOOP_HEARTBEAT_INTERVAL_SECONDS": interval}
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "working"
    expected = "PAUSED" if case.startswith("paused") else "RUNNING"
    with api(server) as http:

        def live_run() -> Any:
            found = http.get(
                "/flow_runs", params={"flow_name": f"cancel-{case}", "state": expected}
            ).json()
            return found[0] if found else None

        run = wait_for(live_run, timeout=60)
        result = cli(server, "flow-run", "cancel", run["name"])
        assert result.returncode == 0, result.stderr
        # No timed assert: it must end on its own (communicate's timeout only guards the test).
        _, err = process.communicate(timeout=60)
        after = http.get(f"/flow_runs/{run['id']}").json()
    assert process.returncode != 0, err
    assert "Traceback" not in err, err
    said = [line for line in err.splitlines() if "Cancelled" in line]
    where = {"paused-sync": r"while paused \(key paused-1\)", "tasks": "before task 'step-[^']+'"}
    assert len(said) == 1, err
    by = after["state"]["details"]["cancelled_by"]
    line = rf"Flow run '{run['name']}' - Cancelled by {re.escape(by)} "
    assert re.search(line + where.get(case, "while running") + "; this process stops$",
                     said[0]), err
    assert after["state"]["type"] == "CANCELLED"


@pytest.mark.parametrize(
    "command",
    [
        ["flow-run", "inspect"],
        ["flow-run", "logs"],
        ["flow-run", "cancel"],
        ["flow-run", "resume"],
    ],
)
def test_unknown_run_id_is_a_clean_404(server: Any, command: list[str]) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    result = cli(server, *command, missing)
    assert_clean_error(result, missing, "not found")


def test_no_server_is_a_clean_error(tmp_path: Any) -> None:
    class Nowhere:
        env = {"INLOOP_API_URL": "http://127.0.0.1:9/api", "INLOOP_HOME": str(tmp_path)}

    result = cli(Nowhere(), "flow-run", "ls")
    assert_clean_error(result, "http://127.0.0.1:9/api", "inloop server start")


def test_help_lists_the_command_groups() -> None:
    # How fast `--help` answers is measured in bench/overhead.py, not asserted here: a timed
    # assert fails on a machine whose cores are busy with other work.
    result = subprocess.run(
        [sys.executable, "-m", "inloop", "--help"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0
    for group in ("server", "flow-run", "deployment", "inbox"):
        assert group in result.stdout


def test_api_key_is_sent_from_the_environment(server_factory: Any) -> None:
    protected = server_factory(INLOOP_API_KEY="sesame")
    assert cli(protected, "flow-run", "ls").returncode == 0

    class WrongKey:
        env = {**protected.env, "INLOOP_API_KEY": "wrong"}

    result = cli(WrongKey(), "flow-run", "ls")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: ")
