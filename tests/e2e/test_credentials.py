"""Credentials carry no more standing than what they stand for (DESIGN section 6), end to end.

A run token acts on its own run and its children, sends to other runs as itself, and dies with
its run; a runner token claims and heartbeats; and a server that gains its first user keeps the
work in flight going (flow processes speak as their runs, a runner without a token says it
needs one and keeps its runs).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from tests.waiting import wait_for


def api(info: Any, token: str | None = None, run_token: str | None = None) -> httpx.Client:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    if run_token:
        headers["x-inloop-run-token"] = run_token
    return httpx.Client(base_url=info.api_url, headers=headers, timeout=30)


def cli(info: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INLOOP_API_URL": info.api_url, "INLOOP_HOME": str(info.home)}
    env.pop("INLOOP_API_KEY", None)
    return subprocess.run(
        [sys.executable, "-m", "inloop", *args], env=env, capture_output=True, text=True,
        timeout=60, stdin=subprocess.DEVNULL,
    )


class Team:
    """A users-mode server: root (admin), olive (operator), rita (runner), with tokens, and a
    deployment `gate/creds` with a parameter schema."""

    def __init__(self, info: Any) -> None:
        self.info = info
        self.tokens: dict[str, str] = {}
        self.deployment: dict[str, Any] = {}

    def run(self, **body: Any) -> dict[str, Any]:
        """A new run made by olive (an operator), with its run token."""
        with api(self.info, self.tokens["olive"]) as http:
            made = http.post("/flow_runs", json={"flow_name": "creds", **body})
        assert made.status_code == 201, made.text
        found: dict[str, Any] = made.json()
        return found


SCHEMA = {"type": "object", "properties": {"amount": {"type": "integer"}},
          "required": ["amount"]}


@pytest.fixture(scope="module")
def team(module_server_factory: Callable[..., Any]) -> Team:
    info = module_server_factory()
    found = Team(info)
    with api(info) as http:
        first = http.post("/users", json={"name": "root", "role": "admin"})
        assert first.status_code == 201, first.text
        found.tokens["root"] = first.json()["token"]
    with api(info, found.tokens["root"]) as root:
        for name, role in (("olive", "operator"), ("rita", "runner")):
            assert root.post("/users", json={"name": name, "role": role}).status_code == 201
            made = root.post("/tokens", json={"user": name})
            assert made.status_code == 201, made.text
            found.tokens[name] = made.json()["token"]
        registered = root.post("/deployments", json={
            "flow_name": "gate", "name": "creds", "entrypoint": "x.py:gate",
            "parameter_schema": SCHEMA,
        })
        assert registered.status_code == 201, registered.text
        found.deployment = registered.json()
    return found


def test_a_run_token_stops_working_when_its_run_is_final(team: Team) -> None:
    run = team.run()
    with api(team.info, run_token=run["run_token"]) as as_run:
        assert as_run.get(f"/flow_runs/{run['id']}").status_code == 200
        started = as_run.post(f"/flow_runs/{run['id']}/set_state", json={"type": "RUNNING"})
        assert started.status_code == 200, started.text
        done = as_run.post(f"/flow_runs/{run['id']}/set_state", json={"type": "COMPLETED"})
        assert done.status_code == 200, done.text
        # All it keeps is hearing how its run ended: a heartbeat (which writes nothing for a
        # finished run) and a read of its own run. Nothing else, not even reading another run.
        beat = as_run.post("/flow_runs/heartbeat", json={"ids": [run["id"]]})
        assert beat.status_code == 200 and beat.json()["stopped"] == {run["id"]: "COMPLETED"}
        assert as_run.get(f"/flow_runs/{run['id']}").json()["state"]["type"] == "COMPLETED"
        other = as_run.get(f"/flow_runs/{team.run()['id']}")
        assert other.status_code == 401
        assert "is over (Completed)" in other.json()["detail"]
        assert as_run.post("/logs", json=[_log(run["id"])]).status_code == 401
        assert as_run.get("/flow_runs").status_code == 401
    # A user's token with it: the user's own rights stand, the run's grants are gone.
    with api(team.info, team.tokens["olive"], run_token=run["run_token"]) as both:
        assert both.get(f"/flow_runs/{run['id']}").status_code == 200
        refused = both.post("/logs", json=[_log(run["id"])])
        assert refused.status_code == 403 and "is over" in refused.json()["detail"]


FLOWS_DIR = Path(__file__).resolve().parents[1] / "flows"
BUSY_FLOW = FLOWS_DIR / "busy_forever.py"


@pytest.mark.parametrize("credential", ["operator", "run token only"])
def test_a_cancel_stops_a_flow_process_in_users_mode(
    team: Team, tmp_path: Path, credential: str
) -> None:
    """The process hears of the cancel through its heartbeat even though its run is over (and
    with it the run's grants): with an operator's token, or with nothing but its run token."""
    script = BUSY_FLOW
    env = {**os.environ, "INLOOP_API_URL": team.info.api_url, "INLOOP_HOME": str(tmp_path),
           "INLOOP_HEARTBEAT_INTERVAL_SECONDS": "0.5"}
    env.pop("INLOOP_RUN_TOKEN", None)
    if credential == "operator":
        env["INLOOP_API_KEY"] = team.tokens["olive"]
        process = subprocess.Popen([sys.executable, str(script)], env=env, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    else:
        # A run made for it, handed over as a runner hands a claimed run to its child.
        run = team.run()
        env.pop("INLOOP_API_KEY", None)
        process = subprocess.Popen(
            [sys.executable, "-m", "inloop._execute"], env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        assert process.stdin is not None
        job = {"flow_run_id": run["id"], "run_token": run["run_token"],
               "entrypoint": f"{script}:busy", "parameters": {}}
        process.stdin.write(json.dumps(job) + "\n")
        process.stdin.flush()  # and kept open, as the runner keeps it while it lives
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "working", process.stderr
        with api(team.info, team.tokens["root"]) as root:
            # The run-token case runs the run made for it (flow "creds").
            flow_name = "creds-busy" if credential == "operator" else "creds"
            running = wait_for(lambda: root.get(
                "/flow_runs", params={"flow_name": flow_name, "state": "RUNNING"}
            ).json(), timeout=60)
            assert len(running) == 1
            assert root.post(f"/flow_runs/{running[0]['id']}/cancel").status_code == 200
        # It ends on its own (the timeout only guards the test).
        process.wait(timeout=60)
        _, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode != 0, err
    assert "Traceback" not in err, err
    assert len([line for line in err.splitlines() if "Cancelled by root" in line]) == 1, err


def _log(run_id: str) -> dict[str, Any]:
    return {"flow_run_id": run_id, "level": 20, "logger": "t", "message": "hello",
            "timestamp": datetime.now(UTC).isoformat()}


def test_a_run_token_acts_only_on_its_own_run_and_its_children(team: Team) -> None:
    mine, other = team.run(), team.run()
    with api(team.info, run_token=mine["run_token"]) as as_run:
        def status(method: str, path: str, body: Any = None) -> int:
            return as_run.request(method, path, json=body).status_code

        # Its own run: logs, heartbeats, state.
        assert status("POST", "/logs", [_log(mine["id"])]) == 201
        assert status("POST", "/flow_runs/heartbeat", {"ids": [mine["id"]]}) == 200
        assert status("POST", f"/flow_runs/{mine['id']}/set_state", {"type": "RUNNING"}) == 200
        # Another run, through the path or through the body: refused.
        for method, path, body in (
            ("POST", "/logs", [_log(mine["id"]), _log(other["id"])]),
            ("POST", "/flow_runs/heartbeat", {"ids": [mine["id"], other["id"]]}),
            ("POST", f"/flow_runs/{other['id']}/set_state", {"type": "RUNNING"}),
            ("POST", f"/flow_runs/{other['id']}/cancel", None),
            ("PUT", f"/flow_runs/{other['id']}/cursors/c", {"after_seq": 1}),
        ):
            refused = as_run.request(method, path, json=body)
            assert refused.status_code == 403, (path, refused.text)
        # Sending to another run works, as itself whatever the body claims.
        sent = as_run.post(f"/flow_runs/{other['id']}/input",
                           json={"key": "hello", "value": 1, "sender": "someone"})
        assert sent.status_code == 201, sent.text
        assert sent.json()["sender"] == f"inloop.flow-run.{mine['id']}"
        # Children: only as its own subflows, and then it may move their state.
        assert status("POST", "/flow_runs", {"flow_name": "orphan"}) == 403
        child = as_run.post("/flow_runs", json={"flow_name": "child",
                                                "parent_flow_run_id": mine["id"]})
        assert child.status_code == 201, child.text
        child_id = child.json()["id"]
        assert status("POST", f"/flow_runs/{child_id}/set_state", {"type": "RUNNING"}) == 200
        assert status("POST", "/flow_runs/heartbeat", {"ids": [mine["id"], child_id]}) == 200
        assert status("POST", "/flow_runs", {"flow_name": "x",
                                             "parent_flow_run_id": other["id"]}) == 403
        # No runner, deployment or shared-block rights.
        deployment = team.deployment["id"]
        assert status("POST", "/runners/claim",
                      {"deployment_ids": [deployment], "runner_id": "r"}) == 403
        assert status("POST", "/deployments", {"flow_name": "gate", "name": "creds",
                                               "entrypoint": "x.py:gate"}) == 403
        assert status("POST", f"/deployments/{deployment}/run",
                      {"parameters": {"amount": 1}}) == 403
        assert status("POST", f"/deployments/{deployment}/run",
                      {"parameters": {"amount": 1}, "parent_flow_run_id": mine["id"]}) == 201
        assert status("PUT", "/blocks/json/shared-config", {"value": 1}) == 403
        assert status("DELETE", "/blocks/json/shared-config") == 403
        # Blocks named after its run (the seed's "<run id>-seen-ids") it keeps; it reads all.
        assert status("PUT", f"/blocks/json/{mine['id']}-seen-ids", {"value": [1]}) == 200
        assert status("GET", f"/blocks/json/{mine['id']}-seen-ids") == 200


def test_an_operator_cannot_wipe_a_deployment_schema_with_a_run_token(team: Team) -> None:
    run = team.run()
    wipe = {"flow_name": "gate", "name": "creds", "entrypoint": "x.py:gate",
            "parameter_schema": {}}
    for headers in ({"run_token": run["run_token"]},
                    {"token": team.tokens["olive"], "run_token": run["run_token"]}):
        with api(team.info, **headers) as http:
            refused = http.post("/deployments", json=wipe)
            assert refused.status_code == 403, refused.text
    with api(team.info, team.tokens["olive"]) as operator:
        kept = operator.get(f"/deployments/{team.deployment['id']}").json()
    assert kept["parameter_schema"] == SCHEMA


def test_a_runner_token_claims_but_cannot_resume_or_manage_users(team: Team) -> None:
    deployment = team.deployment["id"]
    with api(team.info, team.tokens["olive"]) as operator:
        scheduled = operator.post(f"/deployments/{deployment}/run",
                                  json={"parameters": {"amount": 2}})
        assert scheduled.status_code == 201, scheduled.text
        paused = team.run()
    with api(team.info, team.tokens["rita"]) as runner:
        claimed = runner.post("/runners/claim",
                              json={"deployment_ids": [deployment], "runner_id": "rita-1"})
        assert claimed.status_code == 200, claimed.text
        run = claimed.json()
        assert run is not None and run["run_token"]
        assert runner.post("/flow_runs/heartbeat",
                           json={"ids": [run["id"]], "runner_id": "rita-1"}).status_code == 200
        assert runner.get(f"/flow_runs/{run['id']}").status_code == 200
        for method, path, body in (
            ("POST", f"/flow_runs/{paused['id']}/resume", None),
            ("POST", f"/flow_runs/{paused['id']}/cancel", None),
            ("POST", f"/flow_runs/{run['id']}/set_state", {"type": "CRASHED"}),
            ("POST", "/users", {"name": "mallory", "role": "admin"}),
            ("POST", f"/flow_runs/{paused['id']}/input", {"key": "k", "value": 1}),
            ("PUT", "/blocks/json/anything", {"value": 1}),
        ):
            refused = runner.request(method, path, json=body)
            assert refused.status_code == 403, (path, refused.text)
    # What it does to a run it claimed (mark it crashed), it does with that run's token.
    with api(team.info, team.tokens["rita"], run_token=run["run_token"]) as both:
        crashed = both.post(f"/flow_runs/{run['id']}/set_state", json={"type": "CRASHED"})
        assert crashed.status_code == 200, crashed.text


# --- the first user, with work in flight ---------------------------------------------------------

PAUSING = FLOWS_DIR / "pause_for_text_named.py"


def test_a_runner_with_a_runner_token_serves_runs(team: Team, spawn: Any) -> None:
    """Its runs' processes act as their runs (the runner's own role has no rights over runs)."""
    env = {"INLOOP_API_URL": team.info.api_url, "INLOOP_API_KEY": team.tokens["rita"]}
    runner = spawn(PAUSING, "serve", env={**env, "FLOW_NAME": "minded"})
    runner.wait_for_output("is being served")
    with api(team.info, team.tokens["olive"]) as operator:
        made = operator.post("/deployments/name/minded/switch/run", json={"parameters": {}})
        assert made.status_code == 201, made.text
        run_id = made.json()["id"]
        wait_for(lambda: operator.get(f"/flow_runs/{run_id}").json()["state"]["type"]
                 == "PAUSED", timeout=60)
        resumed = operator.post(f"/flow_runs/{run_id}/resume",
                                json={"run_input": {"value": "ok"}})
        assert resumed.status_code == 200, resumed.text
        runner.wait_for_output("minded got ok")
        done = wait_for(lambda: (r := operator.get(f"/flow_runs/{run_id}").json())
                        ["state"]["type"] == "COMPLETED" and r, timeout=30)
    assert done["state"]["type"] == "COMPLETED"
    assert runner.stop() == 0, runner.output


def test_a_runner_without_a_token_says_what_it_needs(team: Team, spawn: Any) -> None:
    runner = spawn(PAUSING, "serve",
                   env={"INLOOP_API_URL": team.info.api_url, "FLOW_NAME": "keyless"})
    assert runner.wait() == 1, runner.output
    assert "INLOOP_API_KEY=<runner token>" in runner.stderr
    assert "Traceback" not in runner.output


def heartbeat_at(info: Any, run_id: str) -> datetime | None:
    url = info.database_url or f"sqlite+aiosqlite:///{info.home / 'inloop.db'}"

    async def read() -> datetime | None:
        engine = create_async_engine(url)
        async with engine.connect() as conn:
            found = await conn.scalar(
                sa.text("SELECT heartbeat_at FROM flow_runs WHERE id = :id"), {"id": run_id}
            )
        await engine.dispose()
        if isinstance(found, str):
            found = datetime.fromisoformat(found)
        if isinstance(found, datetime) and found.tzinfo is None:
            found = found.replace(tzinfo=UTC)
        return found

    return asyncio.run(read())


def test_adding_the_first_user_keeps_work_in_flight(
    server_factory: Callable[..., Any], spawn: Any
) -> None:
    info = server_factory()
    env = {"INLOOP_API_URL": info.api_url, "INLOOP_RUNNER_POLL_SECONDS": "1"}
    runner = spawn(PAUSING, "serve", env={**env, "FLOW_NAME": "served"})
    runner.wait_for_output("is being served")
    script = spawn(PAUSING, env={**env, "FLOW_NAME": "by_hand"})
    with api(info) as open_http:
        made = open_http.post("/deployments/name/served/switch/run", json={})
        assert made.status_code == 201, made.text

        def both_paused() -> list[dict[str, Any]] | None:
            found = open_http.get("/flow_runs", params={"state": "PAUSED"}).json()
            return found if len(found) == 2 else None

        paused = wait_for(both_paused, timeout=60)

    added = cli(info, "user", "add", "alice", "--role", "admin")
    assert added.returncode == 0, added.stdout + added.stderr
    switched = datetime.now(UTC)
    alice = added.stdout.strip().splitlines()[-1]
    assert "2 waiting" in added.stderr, added.stderr
    assert "INLOOP_API_KEY=<runner token>" in " ".join(added.stderr.split())

    # Both processes go on speaking as their runs: their heartbeats are still taken...
    for run in paused:
        # mypy cannot type a lambda whose default captures a loop variable (python/mypy#12557).
        wait_for(lambda run=run: (at := heartbeat_at(info, run["id"])) and at > switched,  # type: ignore[misc]
                 timeout=30)
    # ...the runner says what it needs, without dying...
    runner.wait_for_output("INLOOP_API_KEY=<runner token>", timeout=30)
    assert "refuses this runner (401: the server has users now" in runner.output
    assert runner.popen.poll() is None, runner.output
    # ...and the new admin resumes both, which finish.
    with api(info, alice) as admin:
        for run in paused:
            resumed = admin.post(f"/flow_runs/{run['id']}/resume",
                                 json={"run_input": {"value": "yes"}})
            assert resumed.status_code == 200, resumed.text
        for run in paused:
            # mypy cannot type a lambda whose default captures a loop variable (python/mypy#12557).
            done = wait_for(
                lambda run=run: (r := admin.get(f"/flow_runs/{run['id']}").json())  # type: ignore[misc]
                ["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") and r,
                timeout=60,
            )
            assert done["state"]["type"] == "COMPLETED", (done, runner.output, script.output)
    assert script.wait() == 0, script.output
    assert "by_hand got yes" in script.output
    runner.wait_for_output("served got yes")
    assert "401" not in script.output, script.output
    assert runner.stop() == 0, runner.output
