"""The server stops cleanly on SIGTERM / Ctrl-C, even mid long-poll, and keeps its data."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from inloop import flow, get_client, get_run_logger
from inloop.schemas import StateType

if TYPE_CHECKING:
    from tests.servers import ServerInfo


def start_long_poll(info: ServerInfo) -> tuple[threading.Thread, dict[str, Any]]:
    run = httpx.post(f"{info.api_url}/flow_runs", json={"flow_name": "waiter", "state": "RUNNING"})
    assert run.status_code == 201
    outcome: dict[str, Any] = {}

    def poll() -> None:
        started = time.monotonic()
        try:
            response = httpx.get(
                f"{info.api_url}/flow_runs/{run.json()['id']}/wait",
                params={"after_seq": run.json()["state_seq"], "timeout": 60},
                timeout=90,
            )
            outcome["status"] = response.status_code
        except httpx.HTTPError as exc:
            outcome["error"] = exc
        outcome["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    time.sleep(0.5)  # let the request reach the server and start waiting
    assert "seconds" not in outcome, f"the long-poll returned early: {outcome}"
    return thread, outcome


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_an_idle_server_with_exit_code_0(
    server_factory: Callable[..., ServerInfo], signum: signal.Signals
) -> None:
    info = server_factory()
    assert info.process is not None
    info.process.send_signal(signum)
    code = info.process.wait(timeout=15)  # exits on its own, without a second signal
    assert code == 0, f"exit code {code}; server output:\n{info.stderr_text()}"
    assert "Traceback" not in info.stderr_text()


def test_sigterm_during_a_long_poll_answers_it_and_exits_cleanly(
    server_factory: Callable[..., ServerInfo],
) -> None:
    info = server_factory()
    assert info.process is not None
    thread, outcome = start_long_poll(info)
    started = time.monotonic()
    info.process.send_signal(signal.SIGTERM)
    code = info.process.wait(timeout=15)
    stopped_in = time.monotonic() - started
    thread.join(10)
    assert not thread.is_alive()
    # The waiter is answered (200 with the run as it is), not cut off when the graceful
    # shutdown times out.
    assert outcome.get("status") == 200, outcome
    assert outcome["seconds"] < 3, outcome
    assert code == 0, f"exit code {code}; server output:\n{info.stderr_text()}"
    assert stopped_in < 5, f"took {stopped_in:.1f} s to stop"
    assert "Traceback" not in info.stderr_text(), info.stderr_text()


def test_data_survives_a_restart(server_factory: Callable[..., ServerInfo]) -> None:
    info = server_factory(activate=True)

    @flow(name="survivor")
    def survivor(n: int) -> int:
        get_run_logger().info("written before the restart")
        return n

    assert survivor(5) == 5
    [before] = get_client().read_flow_runs(flow_name="survivor")
    history_before = get_client().read_flow_run_states(before.id)

    old_pid = info.process.pid if info.process else None
    info.restart()
    assert info.process is not None and info.process.pid != old_pid

    after = get_client().read_flow_run(before.id)
    assert after.name == before.name
    assert after.parameters == {"n": 5}
    assert after.state.type is StateType.COMPLETED
    assert get_client().read_flow_run_states(before.id) == history_before
    assert "written before the restart" in [r.message for r in get_client().read_logs(before.id)]

    # The in-process client carries on against the new process.
    assert survivor(6) == 6
    assert len(get_client().read_flow_runs(flow_name="survivor")) == 2


def test_health_names_the_database(server: ServerInfo) -> None:
    response = httpx.get(f"{server.api_url}/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == ("postgresql" if server.database_url else "sqlite")
    if not server.database_url:
        assert (server.home / "inloop.db").is_file()


def test_openapi_and_ui_root(server: ServerInfo) -> None:
    spec = httpx.get(f"{server.api_url}/openapi.json")
    assert spec.status_code == 200
    assert "/api/flow_runs/{flow_run_id}" in spec.json()["paths"]
    assert "/api/flow_runs/{flow_run_id}/resume" in spec.json()["paths"]
    page = httpx.get(f"{server.ui_url}/")
    assert page.status_code == 200 and "<html" in page.text.lower()
