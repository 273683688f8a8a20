"""Browser guards and run tokens, through HTTP against the app in process (tests/inprocess.py);
that tokens outlive a restart needs a real server subprocess.

- Run tokens: a flow run's inputs carry `sender = inloop.flow-run.<id>` set by the server from
  the run's token, never from the body; a body that claims to be a flow run without a token is
  refused, a forged token is a 401.
- Host (DNS rebinding), Origin on writes (CSRF), JSON-only writes, CORS by setting.
- `Authorization: bearer` in any case.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from inloop.server.run_tokens import RUN_SENDER_PREFIX, RUN_TOKEN_HEADER
from tests.inprocess import AppClient

RUN = RUN_SENDER_PREFIX


@pytest.fixture
def api(app_client: AppClient) -> AppClient:
    return app_client


def new_run(api: httpx.Client, name: str = "security-flow") -> dict[str, Any]:
    response = api.post("/flow_runs", json={"flow_name": name, "state": "RUNNING"})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def send(
    api: httpx.Client, run_id: str, key: str, sender: str | None, token: str | None = None
) -> httpx.Response:
    headers = {RUN_TOKEN_HEADER: token} if token is not None else {}
    return api.post(
        f"/flow_runs/{run_id}/input",
        json={"key": key, "value": "hi", "sender": sender},
        headers=headers,
    )


def inputs_of(api: httpx.Client, run_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = api.get(f"/flow_runs/{run_id}/inputs").json()
    return found


# --- run tokens ---------------------------------------------------------------------------------


def test_creating_a_run_hands_out_its_token_and_reading_it_does_not(api: AppClient) -> None:
    run = new_run(api)
    assert run["run_token"]
    read = api.get(f"/flow_runs/{run['id']}").json()
    assert "run_token" not in read
    listed = api.get("/flow_runs").json()
    assert all("run_token" not in item for item in listed)


def test_a_sender_claiming_a_flow_run_without_a_token_is_refused(api: AppClient) -> None:
    victim, target = new_run(api), new_run(api)
    forged = f"{RUN}{victim['id']}"
    response = send(api, target["id"], "forged-1", forged)
    assert response.status_code == 403
    detail = response.json()["detail"]
    assert forged in detail and RUN_TOKEN_HEADER in detail and "claims to be a flow run" in detail
    # The case of the prefix does not get around the rule.
    assert send(api, target["id"], "forged-2", forged.upper()).status_code == 403
    assert inputs_of(api, target["id"]) == []


def test_the_token_sets_the_sender_whatever_the_body_says(api: AppClient) -> None:
    me, victim, target = (new_run(api) for _ in range(3))
    for key, claimed in [("a", f"{RUN}{victim['id']}"), ("b", "alice"), ("c", None)]:
        response = send(api, target["id"], key, claimed, token=me["run_token"])
        assert response.status_code == 201, response.text
        assert response.json()["sender"] == f"{RUN}{me['id']}"
    senders = {i["key"]: i["sender"] for i in inputs_of(api, target["id"])}
    assert senders == {k: f"{RUN}{me['id']}" for k in "abc"}


def test_free_form_senders_without_a_token_are_kept_as_labels(api: AppClient) -> None:
    target = new_run(api)
    response = send(api, target["id"], "label", "alice from accounting")
    assert response.status_code == 201
    assert response.json()["sender"] == "alice from accounting"
    assert send(api, target["id"], "none", None).json()["sender"] is None


def _tampered(token: str, run_id: str) -> str:
    """The same signature over a payload naming another run."""
    _payload, signature = token.split(".")
    other = base64.urlsafe_b64encode(json.dumps({"run": run_id}).encode()).rstrip(b"=")
    return f"{other.decode()}.{signature}"


def test_a_forged_token_is_401_naming_the_header(
    api: AppClient, app_factory: Callable[..., AppClient]
) -> None:
    me, victim, target = (new_run(api) for _ in range(3))
    other_app = app_factory()
    foreign = new_run(other_app)["run_token"]  # another database, another key
    for token in ["not-a-token", "", _tampered(me["run_token"], victim["id"]), foreign]:
        response = send(api, target["id"], "x", f"{RUN}{victim['id']}", token=token)
        assert response.status_code == 401, (token, response.text)
        assert RUN_TOKEN_HEADER in response.json()["detail"]
    assert inputs_of(api, target["id"]) == []


def test_tokens_outlive_a_server_restart(fresh_server: Any) -> None:
    """The signing key lives in the database, not in the process."""
    with httpx.Client(base_url=fresh_server.api_url, timeout=30) as http:
        me, target = new_run(http), new_run(http)
    fresh_server.restart()
    with httpx.Client(base_url=fresh_server.api_url, timeout=30) as http:
        response = send(http, target["id"], "after-restart", None, me["run_token"])
    assert response.status_code == 201, response.text
    assert response.json()["sender"] == f"{RUN}{me['id']}"


def test_a_claimed_run_comes_with_its_token(api: AppClient) -> None:
    deployment = api.post(
        "/deployments",
        json={"flow_name": "claimed-flow", "name": "tokens", "entrypoint": "/x.py:f"},
    ).json()
    scheduled = api.post(f"/deployments/{deployment['id']}/run", json={}).json()
    assert "run_token" not in scheduled  # who starts a deployment run does not execute it
    claimed = api.post(
        "/runners/claim",
        json={"deployment_ids": [deployment["id"]], "runner_id": "test-runner"},
    ).json()
    assert claimed["id"] == scheduled["id"]
    target = new_run(api)
    response = send(api, target["id"], "from-claimed", None, claimed["run_token"])
    assert response.json()["sender"] == f"{RUN}{scheduled['id']}"


def test_client_and_server_agree_on_the_sender_prefix() -> None:
    from inloop.input.run_input import SENDER_PREFIX

    assert SENDER_PREFIX == RUN_SENDER_PREFIX


# --- Host ---------------------------------------------------------------------------------------
# The app checks Host against the address its settings bind it to (127.0.0.1:<server_port>).


@pytest.mark.parametrize("path", ["/api/health", "/", "/runs"])
def test_a_foreign_host_is_refused(api: AppClient, path: str) -> None:
    port = api.settings.server_port
    response = api.get(f"{api.ui_url}{path}", headers={"host": f"evil.example:{port}"})
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert f"evil.example:{port}" in detail and "INLOOP_ALLOWED_HOSTS" in detail


@pytest.mark.parametrize(
    "host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST", "[::1]:{port}", "app.localhost"]
)
def test_loopback_hosts_are_served(api: AppClient, host: str) -> None:
    headers = {"host": host.format(port=api.settings.server_port)}
    response = api.get("/health", headers=headers)
    assert response.status_code == 200, response.text


def test_allowed_hosts_setting(app_factory: Callable[..., AppClient]) -> None:
    app = app_factory(allowed_hosts="inloop.example.com, .corp.example")
    for host in ["inloop.example.com", "inloop.example.com:8443", "a.corp.example", "corp.example"]:
        assert app.get("/health", headers={"host": host}).status_code == 200, host
    for host in ["evil.example", "inloop.example.com.evil.example", "xcorp.example"]:
        assert app.get("/health", headers={"host": host}).status_code == 400, host
    anything = app_factory(allowed_hosts="*")
    response = anything.get("/health", headers={"host": "evil.example"})
    assert response.status_code == 200


# --- Origin and content type on writes ----------------------------------------------------------


def test_cross_origin_writes_are_refused(api: AppClient) -> None:
    run = new_run(api)
    port = api.settings.server_port
    for origin in ["http://evil.example", f"http://127.0.0.1:{port + 1}", "null"]:
        response = api.post(f"/flow_runs/{run['id']}/cancel", headers={"origin": origin})
        assert response.status_code == 403, origin
        detail = response.json()["detail"]
        assert repr(origin) in detail and "INLOOP_CORS_ORIGINS" in detail
    assert api.get(f"/flow_runs/{run['id']}").json()["state"]["type"] == "RUNNING"
    # Reads are not writes: a GET with a foreign Origin is answered (without CORS headers).
    read = api.get(f"/flow_runs/{run['id']}", headers={"origin": "http://evil.example"})
    assert read.status_code == 200 and "access-control-allow-origin" not in read.headers


def test_same_origin_and_origin_less_writes_work(api: AppClient) -> None:
    port = api.settings.server_port
    for origin in [None, api.ui_url, f"http://localhost:{port}"]:
        headers = {"origin": origin} if origin else {}
        if origin and "localhost" in origin:
            headers["host"] = f"localhost:{port}"  # what a browser there would send
        response = api.post("/flow_runs", json={"flow_name": "same"}, headers=headers)
        assert response.status_code == 201, (origin, response.text)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_writes_that_are_not_json_are_415(api: AppClient, content_type: str) -> None:
    run = new_run(api)
    deployment = api.post(
        "/deployments",
        json={"flow_name": "form-target", "name": "csrf", "entrypoint": "/x.py:f"},
    ).json()
    headers = {"content-type": content_type}
    for path in [f"/flow_runs/{run['id']}/cancel", f"/deployments/{deployment['id']}/run"]:
        response = api.post(path, content=b"a=1", headers=headers)
        assert response.status_code == 415, (path, response.text)
        assert content_type in response.json()["detail"]
        assert "application/json" in response.json()["detail"]
    assert api.get(f"/flow_runs/{run['id']}").json()["state"]["type"] == "RUNNING"
    started = api.get("/flow_runs", params={"deployment_id": deployment["id"]}).json()
    assert started == []


def test_json_with_parameters_and_bodiless_writes_are_accepted(api: AppClient) -> None:
    response = api.post(
        "/flow_runs",
        content=json.dumps({"flow_name": "charset"}).encode(),
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 201, response.text
    cancelled = api.post(f"/flow_runs/{response.json()['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text


# --- CORS ---------------------------------------------------------------------------------------

APP_ORIGIN = "http://app.example:3000"


def test_cors_answers_only_the_configured_origins(
    api: AppClient, app_factory: Callable[..., AppClient]
) -> None:
    preflight = {
        "origin": APP_ORIGIN,
        "access-control-request-method": "POST",
        "access-control-request-headers": f"content-type, {RUN_TOKEN_HEADER.lower()}",
    }
    plain = api.options("/flow_runs", headers=preflight)
    assert "access-control-allow-origin" not in plain.headers

    app = app_factory(cors_origins=f"{APP_ORIGIN}/, https://other.example")
    allowed = app.options("/flow_runs", headers=preflight)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "POST" in allowed.headers["access-control-allow-methods"]
    created = app.post("/flow_runs", json={"flow_name": "cors"}, headers={"origin": APP_ORIGIN})
    assert created.status_code == 201, created.text
    assert created.headers["access-control-allow-origin"] == APP_ORIGIN

    refused = app.options("/flow_runs", headers={**preflight, "origin": "http://evil.example"})
    assert "access-control-allow-origin" not in refused.headers
    write = app.post(
        "/flow_runs", json={"flow_name": "cors"}, headers={"origin": "http://evil.example"}
    )
    assert write.status_code == 403
    assert "access-control-allow-origin" not in write.headers


# --- API key ------------------------------------------------------------------------------------


def test_the_bearer_scheme_is_case_insensitive(app_factory: Callable[..., AppClient]) -> None:
    app = app_factory(api_key="k3y")
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"]:
        response = app.get("/flow_runs", headers={"authorization": f"{scheme} k3y"})
        assert response.status_code == 200, scheme
    for value in ["bearer wrong", "Basic k3y", "bearer", "k3y"]:
        assert app.get("/flow_runs", headers={"authorization": value}).status_code == 401, value
