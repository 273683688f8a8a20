"""People end to end: the three modes, users and tokens through the CLI, roles, sign-in sessions,
and flow processes (alone and under a runner) working in users mode.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from tests.waiting import wait_for

ROOT_PASSWORD = "correct horse battery"
OLIVE_PASSWORD = "olive's long password"


def cli(
    info: Any, *args: str, key: str | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INLOOP_API_URL": info.api_url, "INLOOP_HOME": str(info.home)}
    env.pop("INLOOP_API_KEY", None)
    if key is not None:
        env["INLOOP_API_KEY"] = key
    return subprocess.run(
        [sys.executable, "-m", "inloop", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def api(info: Any, token: str | None = None) -> httpx.Client:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=info.api_url, headers=headers, timeout=30)


def set_in_database(info: Any, sql: str) -> None:
    """Change a row behind the server's back (to make a token look expired)."""
    url = info.database_url or f"sqlite+aiosqlite:///{info.home / 'inloop.db'}"

    async def run() -> None:
        engine = create_async_engine(url)
        async with engine.begin() as conn:
            await conn.execute(sa.text(sql))
        await engine.dispose()

    asyncio.run(run())


class People:
    """A users-mode server and its people: root (admin), olive (operator), val (viewer),
    wanda (worker), each with an API token."""

    def __init__(self, info: Any) -> None:
        self.info = info
        self.tokens: dict[str, str] = {}


@pytest.fixture(scope="module")
def people(module_server_factory: Callable[..., Any]) -> People:
    info = module_server_factory()
    found = People(info)
    # The first user, from this (the server's) machine, without any credentials.
    out = ok(cli(info, "user", "add", "root", "--role", "admin", "--email", "root@example.com",
                 "--password-stdin", stdin=ROOT_PASSWORD + "\n"))
    assert "users mode" in out
    found.tokens["root"] = out.strip().splitlines()[-1]
    root = found.tokens["root"]
    ok(cli(info, "user", "add", "olive", "--role", "operator", "--group", "ops", "--group",
           "finance", "--password-stdin", key=root, stdin=OLIVE_PASSWORD + "\n"))
    ok(cli(info, "user", "add", "val", "--role", "viewer", key=root))
    ok(cli(info, "user", "add", "wanda", "--role", "worker", key=root))
    for name in ("olive", "val", "wanda"):
        out = ok(cli(info, "token", "create", "--user", name, "--name", "laptop", key=root))
        found.tokens[name] = out.strip()
    return found


# --- modes ---------------------------------------------------------------------------------------


def test_open_mode_needs_no_credentials_and_says_so(server_factory: Callable[..., Any]) -> None:
    info = server_factory()
    with api(info) as http:
        assert http.get("/session").json()["mode"] == "open"
        run = http.post("/flow_runs", json={"flow_name": "open-flow"}).json()
        cancelled = http.post(
            f"/flow_runs/{run['id']}/cancel", headers={"x-inloop-actor": "ada@laptop"}
        )
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["state"]["details"]["cancelled_by"] == "local:ada@laptop"


def test_shared_key_mode_acts_as_api_key(server_factory: Callable[..., Any]) -> None:
    info = server_factory(INLOOP_API_KEY="the-shared-key")
    with api(info) as anonymous:
        assert anonymous.get("/flow_runs").status_code == 401
        assert anonymous.get("/session").status_code == 401
    with api(info, "the-shared-key") as http:
        assert http.get("/session").json() == {
            "mode": "shared-key", "actor": "api-key", "kind": "api-key", "role": "admin",
            "groups": [], "sso": False,
        }
        run = http.post("/flow_runs", json={"flow_name": "keyed"}).json()
        cancelled = http.post(f"/flow_runs/{run['id']}/cancel").json()
        assert cancelled["state"]["details"]["cancelled_by"] == "api-key"
    # A run's own process may prove itself with the run token alone.
    with api(info) as http:
        other = httpx.post(
            f"{info.api_url}/flow_runs", json={"flow_name": "keyed"},
            headers={"authorization": "Bearer the-shared-key"},
        ).json()
        token = {"x-inloop-run-token": other["run_token"]}
        assert http.get(f"/flow_runs/{other['id']}", headers=token).status_code == 200


def test_users_mode_answers_only_health_and_sign_in_without_credentials(people: People) -> None:
    with api(people.info) as anonymous:
        assert anonymous.get("/health").status_code == 200
        assert anonymous.get("/session").json() == {
            "mode": "users", "actor": None, "kind": None, "role": None, "groups": [], "sso": False,
        }
        refused = anonymous.get("/flow_runs")
        assert refused.status_code == 401
        assert "inloop token create" in refused.json()["detail"]
        assert anonymous.get("/openapi.json").status_code == 401
    with api(people.info, "inl_not-a-real-token") as wrong:
        refused = wrong.get("/flow_runs")
        assert refused.status_code == 401
        assert "unknown token" in refused.json()["detail"]


# --- users and tokens through the CLI ------------------------------------------------------------


def test_user_ls_shows_everyone_with_role_and_groups(people: People) -> None:
    out = ok(cli(people.info, "user", "ls", key=people.tokens["root"]))
    lines = {line.split()[0]: line for line in out.splitlines()[1:] if line.strip()}
    assert set(lines) == {"olive", "root", "val", "wanda"}
    assert "operator" in lines["olive"] and "ops, finance" in lines["olive"]
    assert "root@example.com" in lines["root"]


def test_only_admins_manage_users(people: People) -> None:
    result = cli(people.info, "user", "ls", key=people.tokens["olive"])
    assert result.returncode == 1
    assert "'users:manage'" in result.stderr and "'operator'" in result.stderr


def test_the_first_user_must_be_an_admin(server_factory: Callable[..., Any]) -> None:
    info = server_factory()
    result = cli(info, "user", "add", "solo", "--role", "viewer")
    assert result.returncode == 1
    assert "first user must be an admin" in result.stderr
    with api(info) as http:
        assert http.get("/session").json()["mode"] == "open"


def test_token_create_ls_revoke(people: People) -> None:
    info, root = people.info, people.tokens["root"]
    secret = ok(cli(info, "token", "create", "--user", "val", "--name", "ci", "--expires", "2w",
                    key=root)).strip()
    with api(info, secret) as http:
        assert http.get("/session").json()["actor"] == "val"
    listed = ok(cli(info, "token", "ls", "--user", "val", key=root))
    row = next(line for line in listed.splitlines() if " ci " in line)
    token_id = row.split()[0]
    assert "active" in row and secret not in listed
    # A user sees and revokes their own tokens without the admin role.
    own = ok(cli(info, "token", "ls", key=secret))
    assert token_id in own
    ok(cli(info, "token", "revoke", token_id, key=secret))
    with api(info, secret) as http:
        refused = http.get("/flow_runs")
        assert refused.status_code == 401
        assert "revoked" in refused.json()["detail"]
    assert "revoked" in ok(cli(info, "token", "ls", "--user", "val", key=root))


def test_others_tokens_are_off_limits(people: People) -> None:
    result = cli(people.info, "token", "create", "--user", "olive", key=people.tokens["val"])
    assert result.returncode == 1
    assert "only your own tokens" in result.stderr


def test_an_expired_token_is_refused(people: People) -> None:
    info, root = people.info, people.tokens["root"]
    secret = ok(cli(info, "token", "create", "--user", "val", "--name", "old", key=root)).strip()
    with api(info, secret) as http:
        assert http.get("/flow_runs").status_code == 200
        set_in_database(
            info, "UPDATE api_tokens SET expires = '2000-01-01 00:00:00' WHERE name = 'old'"
        )
        # Written behind the server's back, so no change notification empties its token
        # cache: the edit takes effect once the cached entry's few seconds run out.
        refused = wait_for(lambda: (r := http.get("/flow_runs")).status_code == 401 and r)
    assert refused.status_code == 401
    assert "expired" in refused.json()["detail"]


def test_a_disabled_user_is_refused(people: People) -> None:
    info, root = people.info, people.tokens["root"]
    ok(cli(info, "user", "add", "dora", "--role", "viewer", key=root))
    secret = ok(cli(info, "token", "create", "--user", "dora", key=root)).strip()
    with api(info, secret) as http:
        assert http.get("/flow_runs").status_code == 200
        ok(cli(info, "user", "disable", "dora", key=root))
        refused = http.get("/flow_runs")
    assert refused.status_code == 401
    assert "'dora' is disabled" in refused.json()["detail"]
    assert "disabled" in ok(cli(info, "user", "ls", key=root))


@pytest.mark.parametrize("field", ["role", "groups", "disabled"])
def test_a_user_field_that_cannot_be_empty_refuses_null(people: People, field: str) -> None:
    # Found by the fuzzer: `{"disabled": null}` reached a NOT NULL column and answered 500.
    with api(people.info, people.tokens["root"]) as http:
        refused = http.patch("/users/val", json={field: None})
        after = http.get("/users/val")
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"][0]["loc"] == ["body", field]
    assert after.status_code == 200 and after.json()["role"] == "viewer"


# --- roles ---------------------------------------------------------------------------------------


def test_a_viewer_reads_but_cannot_cancel_and_an_operator_can(people: People) -> None:
    info = people.info
    with api(info, people.tokens["wanda"]) as worker:
        run = worker.post("/flow_runs", json={"flow_name": "roles"}).json()
    with api(info, people.tokens["val"]) as viewer:
        assert viewer.get(f"/flow_runs/{run['id']}").status_code == 200
        refused = viewer.post(f"/flow_runs/{run['id']}/cancel")
        assert refused.status_code == 403
        assert "'runs:cancel'" in refused.json()["detail"]
        assert "'viewer'" in refused.json()["detail"]
        assert viewer.post("/flow_runs", json={"flow_name": "x"}).status_code == 403
    with api(info, people.tokens["olive"]) as operator:
        cancelled = operator.post(f"/flow_runs/{run['id']}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["state"]["details"]["cancelled_by"] == "olive"
        # An operator is not a worker: it may not move a run's state by hand.
        refused = operator.post(f"/flow_runs/{run['id']}/set_state", json={"type": "RUNNING"})
        assert refused.status_code == 403 and "'runs:set_state'" in refused.json()["detail"]


def test_a_run_token_alone_touches_only_its_own_run(people: People) -> None:
    with api(people.info, people.tokens["wanda"]) as worker:
        mine = worker.post("/flow_runs", json={"flow_name": "scoped"}).json()
        other = worker.post("/flow_runs", json={"flow_name": "scoped"}).json()
    with api(people.info) as http:
        token = {"x-inloop-run-token": mine["run_token"]}
        assert http.get("/session", headers=token).json()["actor"] == (
            f"inloop.flow-run.{mine['id']}"
        )
        own = http.post(f"/flow_runs/{mine['id']}/set_state", json={"type": "RUNNING"},
                        headers=token)
        assert own.status_code == 200, own.text
        refused = http.post(f"/flow_runs/{other['id']}/set_state", json={"type": "RUNNING"},
                            headers=token)
        assert refused.status_code == 403
        assert "only its own run" in refused.json()["detail"]


# --- sessions ------------------------------------------------------------------------------------


def test_sign_in_sets_a_safe_cookie_and_sign_out_ends_it(people: People) -> None:
    info = people.info
    origin = {"origin": f"http://127.0.0.1:{info.port}"}
    with api(info) as http:
        wrong = http.post("/session", json={"name": "olive", "password": "nope"})
        assert wrong.status_code == 401
        assert http.post("/session", json={"name": "nobody", "password": "x"}).text == wrong.text
        signed = http.post("/session", json={"name": "olive", "password": OLIVE_PASSWORD})
        assert signed.status_code == 200, signed.text
        assert signed.json()["actor"] == "olive" and signed.json()["groups"] == ["ops", "finance"]
        cookie = signed.headers["set-cookie"]
        assert cookie.startswith("inloop_session=")
        flags = {part.strip().lower() for part in cookie.split(";")}
        assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
        assert "secure" not in flags  # plain http here
        assert http.get("/session").json()["actor"] == "olive"
        assert http.get("/flow_runs").status_code == 200

        # Cookie-authenticated writes must show they come from this server's pages.
        refused = http.post("/flow_runs", json={"flow_name": "from-ui"})
        assert refused.status_code == 403
        assert "Origin or Referer" in refused.json()["detail"]
        assert http.post("/flow_runs", json={"flow_name": "x"},
                         headers={"origin": "http://127.0.0.1:1"}).status_code == 403
        made = http.post("/flow_runs", json={"flow_name": "from-ui"}, headers=origin)
        assert made.status_code == 201, made.text
        referred = http.post("/flow_runs", json={"flow_name": "from-ui"},
                             headers={"referer": f"http://127.0.0.1:{info.port}/runs"})
        assert referred.status_code == 201, referred.text

        stale = http.cookies.get("inloop_session")
        assert http.delete("/session", headers=origin).status_code == 200
        assert http.get("/session").json()["actor"] is None
    with api(info) as replay:
        replay.cookies.set("inloop_session", stale or "")
        assert replay.get("/flow_runs").status_code == 401


def test_a_password_change_ends_other_sessions_and_keeps_or_revokes_tokens(
    people: People,
) -> None:
    info, root = people.info, people.tokens["root"]
    origin = {"origin": f"http://127.0.0.1:{info.port}"}
    first, second, third = "pat's first password", "pat's second password", "pat's third one"
    ok(cli(info, "user", "add", "pat", "--role", "admin", "--password-stdin", key=root,
           stdin=first + "\n"))
    token = ok(cli(info, "token", "create", "--user", "pat", key=root)).strip()
    with api(info) as here, api(info) as there, api(info, token) as by_token:
        for browser in (here, there):
            signed = browser.post("/session", json={"name": "pat", "password": first})
            assert signed.status_code == 200, signed.text
        # Pat changes her own password in one browser: that session stays, the other ends.
        changed = here.patch("/users/pat", json={"password": second}, headers=origin)
        assert changed.status_code == 200, changed.text
        assert changed.json()["password_change"] == {
            "sessions_ended": 1, "tokens_revoked": 0, "tokens_kept": 1,
        }
        assert here.get("/session").json()["actor"] == "pat"
        assert there.get("/session").json()["actor"] is None
        assert by_token.get("/flow_runs").status_code == 200

        # An admin sets it with the CLI: pat's session ends, her token is kept, and it says so.
        out = ok(cli(info, "user", "password", "pat", "--password-stdin", key=root,
                     stdin=third + "\n"))
        assert "Changed pat's password; signed out 1 session." in out
        assert "Kept pat's 1 API token (still working)" in out
        assert here.get("/session").json()["actor"] is None
        assert by_token.get("/flow_runs").status_code == 200

        out = ok(cli(info, "user", "password", "pat", "--password-stdin", "--revoke-tokens",
                     key=root, stdin=first + "\n"))
        assert "signed out 0 sessions" in out and "Revoked 1 API token." in out
        refused = by_token.get("/flow_runs")
        assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    with api(info) as http:
        assert http.post("/session", json={"name": "pat", "password": third}).status_code == 401
        assert http.post("/session", json={"name": "pat", "password": first}).status_code == 200
    with api(info, root) as http:
        alone = http.patch("/users/pat", json={"revoke_tokens": True})
        assert alone.status_code == 422 and "goes with a new password" in alone.text
        changes = [e["details"] for e in http.get("/events", params={"kind": "user.changed"}).json()
                   if e["details"]["user"] == "pat"]
        assert [(c["sessions_ended"], c["tokens_revoked"]) for c in changes] == [
            (1, 0), (1, 0), (0, 1),
        ]


def test_failed_sign_ins_are_shown_to_admins_only(people: People) -> None:
    info = people.info
    typed = "hunter2-typed-into-the-name-field"
    with api(info) as http:
        assert http.post("/session", json={"name": typed, "password": "x"}).status_code == 401
    for name in ("olive", "val"):
        with api(info, people.tokens[name]) as http:
            for params in ({}, {"kind": "session."}, {"kind": "session.sign-in-failed"}):
                shown = http.get("/events", params={**params, "limit": 1000})
                assert shown.status_code == 200, shown.text
                assert typed not in shown.text
        listed = cli(info, "events", "--kind", "session.", key=people.tokens[name])
        assert listed.returncode == 0, listed.stderr
        assert "sign-in-failed" not in listed.stdout
    with api(info, people.tokens["root"]) as http:
        assert typed in http.get("/events", params={"kind": "session.sign-in-failed"}).text


def test_sign_in_needs_users(server_factory: Callable[..., Any]) -> None:
    info = server_factory()
    with api(info) as http:
        refused = http.post("/session", json={"name": "a", "password": "b"})
    assert refused.status_code == 409
    assert "no users" in refused.json()["detail"]


# --- flow processes in users mode ----------------------------------------------------------------

FLOWS_DIR = Path(__file__).resolve().parents[1] / "flows"
APPROVAL = FLOWS_DIR / "approval_for_text.py"

SERVED = FLOWS_DIR / "gated_served.py"


def _resume_paused(people: People, flow_name: str) -> dict[str, Any]:
    with api(people.info, people.tokens["olive"]) as operator:
        def paused() -> dict[str, Any] | None:
            runs = operator.get("/flow_runs", params={"flow_name": flow_name,
                                                     "state": "PAUSED"}).json()
            return runs[0] if runs else None

        run = wait_for(paused, timeout=60)
        with api(people.info, people.tokens["val"]) as viewer:
            answer = {"run_input": {"value": "no"}}
            refused = viewer.post(f"/flow_runs/{run['id']}/resume", json=answer)
            assert refused.status_code == 403 and "'runs:resume'" in refused.json()["detail"]
        answer = {"run_input": {"value": "yes"}}
        resumed = operator.post(f"/flow_runs/{run['id']}/resume", json=answer)
        assert resumed.status_code == 200, resumed.text
        assert resumed.json()["state"]["details"]["resumed_by"] == "olive"
        return run


def test_a_flow_process_pauses_and_an_operator_resumes_it(people: People, spawn: Any) -> None:
    env = {"INLOOP_API_URL": people.info.api_url, "INLOOP_API_KEY": people.tokens["wanda"]}
    proc = spawn(APPROVAL, env=env)
    proc.wait_for_output("pausing")
    run = _resume_paused(people, "approval")
    proc.wait_for_output("approved: yes")
    assert proc.wait() == 0, proc.output
    with api(people.info, people.tokens["val"]) as viewer:
        final = viewer.get(f"/flow_runs/{run['id']}").json()
    assert final["state"]["type"] == "COMPLETED"


def test_a_runner_with_a_worker_token_serves_runs(people: People, spawn: Any) -> None:
    env = {"INLOOP_API_URL": people.info.api_url, "INLOOP_API_KEY": people.tokens["wanda"]}
    runner = spawn(SERVED, env=env)
    runner.wait_for_output("is being served")
    with api(people.info, people.tokens["olive"]) as operator:
        started = operator.post("/deployments/name/gated/identity/run",
                                json={"parameters": {"label": "one"}})
        assert started.status_code == 201, started.text
    _resume_paused(people, "gated")
    runner.wait_for_output("gated one: yes")
