"""No acknowledged input is lost or duplicated: concurrent senders through two server replicas,
a server restart in the middle of a stream of sends, inputs to finished runs, and a resume sent
to a paused run whose process was killed.
"""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from inloop import get_client
from inloop.input.run_input import as_run_input, receive_input, send_input
from inloop.schemas import StateType
from tests.servers import ServerInfo, free_port, is_postgres
from tests.waiting import wait_for

SENDERS = 4
PER_SENDER = 150
INT_PREFIX = type(as_run_input(0)).key_prefix()


def new_run(api_url: str, flow_name: str = "delivery") -> str:
    response = httpx.post(
        f"{api_url}/flow_runs", json={"flow_name": flow_name, "state": "RUNNING"}, timeout=30
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture
def replicas(fresh_server: ServerInfo, tmp_path: Path) -> Iterator[list[ServerInfo]]:
    """Two servers on one PostgreSQL database; on SQLite, the one server."""
    if not is_postgres(fresh_server.database_url):
        yield [fresh_server]
        return
    second = ServerInfo(port=free_port(), home=tmp_path, database_url=fresh_server.database_url)
    second.start()
    try:
        yield [fresh_server, second]
    finally:
        second.stop()


def test_concurrent_senders_through_replicas_lose_and_duplicate_nothing(
    replicas: list[ServerInfo],
) -> None:
    run_id = new_run(replicas[0].api_url)
    total = SENDERS * PER_SENDER
    received: list[int] = []
    failures: list[str] = []

    def receive() -> None:
        # Stops when every value arrived, or after 60 s without a new one.
        for value in receive_input(int, flow_run_id=run_id, timeout=60, raise_timeout_error=False):
            received.append(value)
            if len(received) >= total:
                return

    def send(sender: int) -> None:
        # Each sender writes through its own replica, in parallel with the others.
        server = replicas[sender % len(replicas)]
        with httpx.Client(base_url=server.api_url, timeout=60) as http:
            for i in range(PER_SENDER):
                value = sender * PER_SENDER + i
                body = {"key": f"{INT_PREFIX}-{uuid.uuid4().hex}", "value": {"value": value}}
                response = http.post(f"/flow_runs/{run_id}/input", json=body)
                if response.status_code != 201:
                    failures.append(f"{value}: {response.status_code} {response.text}")

    receiver = threading.Thread(target=receive)
    receiver.start()
    senders = [threading.Thread(target=send, args=(n,)) for n in range(SENDERS)]
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join()
    receiver.join()

    assert failures == []
    missed = sorted(set(range(total)) - set(received))
    assert missed == [], f"{len(missed)} of {total} acknowledged inputs never received"
    assert len(received) == len(set(received)), "an input was received twice"


def test_server_restart_mid_stream_delivers_each_value_once(fresh_server: ServerInfo) -> None:
    run_id = new_run(fresh_server.api_url)
    count = 80
    sent: list[int] = []
    errors: list[BaseException] = []

    def send_all() -> None:
        try:
            for value in range(count):
                send_input(value, flow_run_id=run_id)
                sent.append(value)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    sender = threading.Thread(target=send_all)
    sender.start()
    wait_for(lambda: len(sent) >= 10 or errors)
    fresh_server.restart()  # SIGTERM, then a new process on the same port and database
    sender.join()

    assert errors == []
    values = [
        item.value["value"]
        for item in get_client().read_flow_run_inputs(run_id)
        if item.key.startswith(f"{INT_PREFIX}-")
    ]
    assert sorted(values) == list(range(count))


def test_same_key_and_value_again_is_the_same_input(server: ServerInfo) -> None:
    run_id = new_run(server.api_url)
    body = {"key": "answer-7", "value": {"x": 1}, "sender": "alice"}
    with httpx.Client(base_url=server.api_url, timeout=30) as http:
        first = http.post(f"/flow_runs/{run_id}/input", json=body)
        again = http.post(f"/flow_runs/{run_id}/input", json=body)
        other_sender = http.post(f"/flow_runs/{run_id}/input", json={**body, "sender": "bob"})
        stored = http.get(f"/flow_runs/{run_id}/inputs").json()
    assert first.status_code == 201, first.text
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert other_sender.status_code == 409
    assert "different value or sender" in other_sender.json()["detail"]
    assert [item["key"] for item in stored] == ["answer-7"]


@pytest.mark.parametrize("final", ["COMPLETED", "FAILED", "CRASHED", "CANCELLED"])
def test_inputs_to_a_finished_run_are_refused(server: ServerInfo, final: str) -> None:
    run_id = new_run(server.api_url)
    before = {"key": "early-1", "value": 1}
    with httpx.Client(base_url=server.api_url, timeout=30) as http:
        assert http.post(f"/flow_runs/{run_id}/input", json=before).status_code == 201
        moved = http.post(f"/flow_runs/{run_id}/set_state", json={"type": final})
        assert moved.status_code == 200, moved.text
        late = http.post(f"/flow_runs/{run_id}/input", json={"key": "late-1", "value": 2})
        # A retry of an input stored before the end is still the same input.
        retry = http.post(f"/flow_runs/{run_id}/input", json=before)
        keys = [item["key"] for item in http.get(f"/flow_runs/{run_id}/inputs").json()]
    assert late.status_code == 409, late.text
    detail = late.json()["detail"]
    assert StateType(final).display_name in detail
    assert "nothing would ever read" in detail
    assert retry.status_code == 200, retry.text
    assert keys == ["early-1"]


FLOWS_DIR = Path(__file__).resolve().parents[1] / "flows"
PAUSING_SCRIPT = FLOWS_DIR / "pause_then_killed.py"
PAUSED_GRACE = 3.0


def test_resume_of_a_killed_paused_process_is_refused(
    server_factory: Any, run_flow_script: Any
) -> None:
    target = server_factory(activate=True, INLOOP_PAUSED_HEARTBEAT_GRACE_SECONDS=str(PAUSED_GRACE))
    client = get_client()
    # Beats well within the short grace, so only the kill can make it silent.
    process = run_flow_script(
        PAUSING_SCRIPT, env={"INLOOP_PAUSED_HEARTBEAT_INTERVAL_SECONDS": "0.5"}
    )

    def paused_run() -> Any:
        found = client.read_flow_runs(flow_name="paused-then-killed", state=StateType.PAUSED)
        return found[0] if found else None

    run = wait_for(paused_run, timeout=60)
    process.kill()  # SIGKILL: no chance to say goodbye
    process.wait()
    # Precondition, not a speed check: let the process's silence outlast the grace.
    time.sleep(PAUSED_GRACE + 1)

    response = httpx.post(
        f"{target.api_url}/flow_runs/{run.id}/resume",
        json={"run_input": {"value": "too late"}},
        timeout=30,
    )
    assert response.status_code == 409, response.text
    assert "stopped answering" in response.json()["detail"]
    after = client.read_flow_run(run.id)
    assert after.state.type is StateType.CRASHED
    assert all(not item.key.endswith("-response") for item in client.read_flow_run_inputs(run.id))


def test_an_answer_acknowledged_just_before_the_process_died_is_named_in_the_crash(
    server_factory: Any, run_flow_script: Any
) -> None:
    # The resume is acknowledged while the process still counts as alive (frozen, not yet
    # silent for the paused grace); it is killed before it can read the answer.
    server_factory(
        activate=True,
        INLOOP_PAUSED_HEARTBEAT_GRACE_SECONDS="60",
        INLOOP_HEARTBEAT_GRACE_SECONDS=str(PAUSED_GRACE),
    )
    client = get_client()
    process = run_flow_script(PAUSING_SCRIPT, env={"FLOW_NAME": "answered-then-killed"})

    def paused_run() -> Any:
        found = client.read_flow_runs(flow_name="answered-then-killed", state=StateType.PAUSED)
        return found[0] if found else None

    run = wait_for(paused_run, timeout=60)
    process.send_signal(signal.SIGSTOP)
    try:
        resumed = client.resume_flow_run(run.id, run_input={"value": "read me"})
        assert resumed.state.type is StateType.RUNNING
    finally:
        process.kill()
        process.wait()

    def crashed() -> Any:
        found = client.read_flow_run(run.id)
        return found if found.state.type is StateType.CRASHED else None

    after = wait_for(crashed, timeout=60)
    assert "may never have been read" in (after.state.message or "")
    assert after.state.details["unread_answer"] == "paused-1-response"
    kept = client.read_flow_run_input(run.id, "paused-1-response")
    assert kept is not None and kept.value == {"value": "read me"}
