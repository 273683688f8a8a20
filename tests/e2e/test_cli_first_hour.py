"""A user's first hour: what a paused flow prints, Ctrl-C, a wrong API URL, bad ports, run
names and short ids, --help and --version, what `resume` reports, and a huge log line.

Each test runs the real thing: flow scripts and the CLI as subprocesses against a real server.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

FLOWS_DIR = Path(__file__).resolve().parents[1] / "flows"
PAUSED_SYNC = FLOWS_DIR / "pause_for_int.py"

PAUSED_ASYNC = FLOWS_DIR / "pause_for_int_async.py"

BIG_LOG = FLOWS_DIR / "log_a_huge_line.py"


def cli(server: Any, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inloop", *args],
        env={**os.environ, **server.env, "COLUMNS": "250", **env},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def one_error_line(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    assert result.returncode == code, result
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


def paused_run_of(api: httpx.Client, process: subprocess.Popen[str], wait_for: Any) -> Any:
    """The run a flow script created, once it is paused (found by the script's console line)."""
    lines: list[str] = []

    def waiting_line() -> str | None:
        assert process.stderr is not None
        line = process.stderr.readline()
        lines.append(line)
        if not line and process.poll() is not None:
            pytest.fail(f"flow script exited {process.returncode}: {''.join(lines)}")
        return line if "Waiting for input" in line else None

    line = wait_for(waiting_line)
    run_id = re.search(r"inloop flow-run resume ([0-9a-f-]{36})", line)
    assert run_id, line
    return api.get(f"/flow_runs/{run_id.group(1)}").json(), line


# --- a paused flow says how to answer it ------------------------------------------------------


def test_a_paused_flow_prints_how_to_resume_it(server, api, run_flow_script, wait_for) -> None:
    process = run_flow_script(PAUSED_SYNC)
    run, line = paused_run_of(api, process, wait_for)
    assert run["state"]["type"] == "PAUSED"
    expected = (
        f"Flow run '{run['name']}' - Waiting for input (key paused-1): "
        f"inloop flow-run resume {run['id']}  or  {server.ui_url}/runs/{run['id']}/resume"
    )
    assert expected in line
    # The same line reaches the run's log (shipped in the background), for whoever looks there.
    def logged() -> bool:
        records = api.get(f"/flow_runs/{run['id']}/logs").json()
        return any(r["message"].startswith("Waiting for input (key paused-1)") for r in records)

    wait_for(logged)


# --- Ctrl-C -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "how"),
    [
        (PAUSED_SYNC, "Ctrl-C (KeyboardInterrupt)"),
        (PAUSED_ASYNC, "task cancellation (asyncio.CancelledError"),
    ],
    ids=["sync", "async"],
)
def test_ctrl_c_on_a_paused_flow_records_cancelled_in_one_line(
    api, run_flow_script, wait_for, source, how
) -> None:
    process = run_flow_script(source)
    run, _ = paused_run_of(api, process, wait_for)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    # Killed by SIGINT, as an interrupted program should end: a shell shows exit status 130.
    assert process.returncode in (-signal.SIGINT, 130), err
    assert "Traceback" not in err
    assert "KeyboardInterrupt\n" not in err
    interrupted = [line for line in err.splitlines() if "Interrupted" in line]
    assert len(interrupted) == 1, err
    assert f"Flow run '{run['name']}' - Interrupted by {how}" in interrupted[0]
    assert interrupted[0].endswith("while paused (key paused-1); marked Cancelled")

    state = api.get(f"/flow_runs/{run['id']}").json()["state"]
    assert state["type"] == "CANCELLED"
    assert state["message"].startswith(f"interrupted by {how}")
    assert state["message"].endswith("while paused (key paused-1)")
    assert state["details"]["cancelled_by"] == "interrupt"


# --- INLOOP_API_URL without /api --------------------------------------------------------------


def test_an_api_url_without_api_is_named_with_the_fix(server) -> None:
    base = server.ui_url
    listed = one_error_line(cli(server, "flow-run", "ls", INLOOP_API_URL=base))
    assert f"INLOOP_API_URL={base} answered HTML, not the inloop API" in listed
    assert f"did you mean {base}/api?" in listed
    # A POST the UI does not serve (405, JSON) gets the same hint.
    run_id = "00000000-0000-0000-0000-000000000000"
    cancelled = one_error_line(cli(server, "flow-run", "cancel", run_id, INLOOP_API_URL=base))
    assert f"did you mean {base}/api?" in cancelled


# --- server start: bad port, bad host ---------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--port", "99999"], "--port 99999 is not a port; use a number from 1 to 65535"),
        (["--port", "0"], "--port 0 is not a port"),
        (["--host", "no-such-host.invalid", "--port", "4999"], "cannot be resolved"),
    ],
)
def test_server_start_refuses_a_bad_port_or_host_in_one_line(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "inloop", "server", "start", *args],
        env={**os.environ, "INLOOP_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert expected in one_error_line(result)


def test_server_start_refuses_a_port_from_settings_out_of_range(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "inloop", "server", "start"],
        env={**os.environ, "INLOOP_HOME": str(tmp_path), "INLOOP_SERVER_PORT": "70000"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "INLOOP_SERVER_PORT=70000 is not a port" in one_error_line(result)


# --- run references: id, name, short id -------------------------------------------------------


def create_run(api: httpx.Client, name: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"flow_name": "first-hour-refs", "state": "RUNNING", "name": name}
    response = api.post("/flow_runs", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_commands_take_a_run_name_or_the_short_id_the_ui_shows(server, api) -> None:
    run = create_run(api)
    for ref in (run["name"], run["id"][:8], run["id"], run["id"].upper()[:8]):
        inspected = cli(server, "flow-run", "inspect", ref)
        assert inspected.returncode == 0, inspected.stderr
        assert run["id"] in inspected.stdout and run["name"] in inspected.stdout
    assert cli(server, "flow-run", "logs", run["id"][:8]).returncode == 0
    cancelled = cli(server, "flow-run", "cancel", run["name"])
    assert cancelled.returncode == 0, cancelled.stderr
    assert api.get(f"/flow_runs/{run['id']}").json()["state"]["type"] == "CANCELLED"


def test_an_ambiguous_or_unknown_reference_is_an_error_naming_it(server, api) -> None:
    first, second = create_run(api, "twin-run"), create_run(api, "twin-run")
    ambiguous = one_error_line(cli(server, "flow-run", "inspect", "twin-run"))
    assert "'twin-run' matches 2 flow runs" in ambiguous
    assert first["id"] in ambiguous and second["id"] in ambiguous

    unknown = one_error_line(cli(server, "flow-run", "resume", "no-such-run", "--input", "1"))
    assert "no flow run has the id, name or id prefix 'no-such-run'" in unknown


def test_the_resolve_endpoint_bounds_its_parameter(api) -> None:
    assert api.get("/flow_runs/resolve", params={"ref": "a\x00b"}).status_code == 422
    assert api.get("/flow_runs/resolve", params={"ref": "a" * 201}).status_code == 422
    assert api.get("/flow_runs/resolve", params={"ref": ""}).status_code == 422
    # "%" and "_" are literal characters of a name, never LIKE wildcards.
    assert api.get("/flow_runs/resolve", params={"ref": "%"}).status_code == 404


# --- --help and --version ---------------------------------------------------------------------


HELP_COMMANDS = [
    [],
    ["server", "start"],
    ["flow-run", "ls"],
    ["flow-run", "inspect"],
    ["flow-run", "logs"],
    ["flow-run", "resume"],
    ["flow-run", "cancel"],
    ["deployment", "run"],
    ["inbox"],
]


@pytest.mark.parametrize("command", HELP_COMMANDS, ids=lambda c: " ".join(c) or "inloop")
def test_help_shows_metavars_and_defaults_not_python_types(tmp_path: Path, command) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "inloop", *command, "--help"],
        env={**os.environ, "COLUMNS": "200", "INLOOP_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert not re.search(r"<(bool|str|int|list\[str\])>", result.stdout), result.stdout
    if command == ["server", "start"]:
        assert re.search(r"--port\s+PORT", result.stdout)
        assert "[default: (INLOOP_SERVER_PORT, else 4200)]" in result.stdout
    if command == ["flow-run", "ls"]:
        assert re.search(r"--limit\s+N", result.stdout) and "[default: 20]" in result.stdout
    if command == ["flow-run", "resume"]:
        assert re.search(r"--input\s+JSON", result.stdout)


def test_version(tmp_path: Path) -> None:
    from inloop import __version__

    result = subprocess.run(
        [sys.executable, "-m", "inloop", "--version"],
        env={**os.environ, "INLOOP_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"inloop {__version__}\n"


# --- resume says what the flow did ------------------------------------------------------------


def test_resume_says_when_the_flow_rejects_the_answer_then_when_it_completes(
    server, api, run_flow_script, wait_for
) -> None:
    process = run_flow_script(EXAMPLES / "pause_shirt_order_loop.py")
    run, _ = paused_run_of(api, process, wait_for)

    rejected = cli(
        server, "flow-run", "resume", run["name"], "--input", '{"size": "small", "color": "green"}'
    )
    assert rejected.returncode == 1, rejected
    assert "the flow rejected the answer and paused again (key paused-2):" in rejected.stdout
    assert "Invalid size and color combination" in rejected.stdout
    assert "Green is only in-stock for medium, large, and XL sizes." in rejected.stdout

    accepted = cli(
        server, "flow-run", "resume", run["id"][:8], "--input", '{"size": "medium", "color": "red"}'
    )
    assert accepted.returncode == 0, accepted
    assert f"Resumed flow run {run['name']} ({run['id']}); now Completed" in accepted.stdout
    process.communicate(timeout=30)
    assert process.returncode == 0


# --- one huge log line ------------------------------------------------------------------------


def test_a_huge_log_record_is_truncated_and_the_rest_of_the_log_kept(
    api, run_flow_script
) -> None:
    process = run_flow_script(BIG_LOG)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err[-2000:]
    assert "could not ship" not in err and "refused" not in err
    run_id = re.search(r"/runs/([0-9a-f-]{36})", err)
    assert run_id, err[:2000]
    records = api.get(f"/flow_runs/{run_id.group(1)}/logs").json()
    messages = [r["message"] for r in records]
    assert messages[0] == "before"
    assert messages[1].startswith("x" * 1000)
    assert messages[1].endswith("… [truncated 19 MiB → 64 KiB]")
    assert len(messages[1]) < 70_000
    assert messages[2:] == ["after", "Finished in state Completed"]


SPLIT_LOGS = FLOWS_DIR / "log_ten_big_lines.py"


def test_a_batch_the_server_refuses_as_too_big_is_stored_in_smaller_parts(
    server_factory, run_flow_script
) -> None:
    # 10 records of 50 kB go out as one batch; this server takes at most 200 kB per request.
    small = server_factory(activate=True, INLOOP_MAX_REQUEST_BYTES="200000")
    process = run_flow_script(SPLIT_LOGS)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err[-2000:]
    assert "refused" not in err and "could not ship" not in err
    run_id = re.search(r"/runs/([0-9a-f-]{36})", err)
    assert run_id, err[:2000]
    headers = {"authorization": f"Bearer {small.api_key}"} if small.api_key else {}
    records = httpx.get(
        f"{small.api_url}/flow_runs/{run_id.group(1)}/logs", headers=headers, timeout=30
    ).json()
    messages = [r["message"] for r in records]
    assert [m.split(" ")[0] for m in messages[:10]] == [str(n) for n in range(10)]
    assert messages[10:] == ["Finished in state Completed"]
