"""Browser guards and run tokens, through HTTP against a real server subprocess.

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

RUN = RUN_SENDER_PREFIX


def new_run(api: str, name: str = "security-flow") -> dict[str, Any]:
    response = httpx.post(f"{api}/flow_runs", json={"flow_name": name, "state": "RUNNING"})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def send(
    api: str, run_id: str, key: str, sender: str | None, token: str | None = None
) -> httpx.Response:
    headers = {RUN_TOKEN_HEADER: token} if token is not None else {}
    return httpx.post(
        f"{api}/flow_runs/{run_id}/input",
        json={"key": key, "value": "hi", "sender": sender},
        headers=headers,
    )


def inputs_of(api: str, run_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = httpx.get(f"{api}/flow_runs/{run_id}/inputs").json()
    return found


# --- run tokens ---------------------------------------------------------------------------------


def test_creating_a_run_hands_out_its_token_and_reading_it_does_not(server: Any) -> None:
    run = new_run(server.api_url)
    assert run["run_token"]
    read = httpx.get(f"{server.api_url}/flow_runs/{run['id']}").json()
    assert "run_token" not in read
    listed = httpx.get(f"{server.api_url}/flow_runs").json()
    assert all("run_token" not in item for item in listed)


def test_a_sender_claiming_a_flow_run_without_a_token_is_refused(server: Any) -> None:
    victim, target = new_run(server.api_url), new_run(server.api_url)
    forged = f"{RUN}{victim['id']}"
    response = send(server.api_url, target["id"], "forged-1", forged)
    assert response.status_code == 403
    detail = response.json()["detail"]
    assert forged in detail and RUN_TOKEN_HEADER in detail and "claims to be a flow run" in detail
    # The case of the prefix does not get around the rule.
    assert send(server.api_url, target["id"], "forged-2", forged.upper()).status_code == 403
    assert inputs_of(server.api_url, target["id"]) == []


def test_the_token_sets_the_sender_whatever_the_body_says(server: Any) -> None:
    me, victim, target = (new_run(server.api_url) for _ in range(3))
    for key, claimed in [("a", f"{RUN}{victim['id']}"), ("b", "alice"), ("c", None)]:
        response = send(server.api_url, target["id"], key, claimed, token=me["run_token"])
        assert response.status_code == 201, response.text
        assert response.json()["sender"] == f"{RUN}{me['id']}"
    senders = {i["key"]: i["sender"] for i in inputs_of(server.api_url, target["id"])}
    assert senders == {k: f"{RUN}{me['id']}" for k in "abc"}


def test_free_form_senders_without_a_token_are_kept_as_labels(server: Any) -> None:
    target = new_run(server.api_url)
    response = send(server.api_url, target["id"], "label", "alice from accounting")
    assert response.status_code == 201
    assert response.json()["sender"] == "alice from accounting"
    assert send(server.api_url, target["id"], "none", None).json()["sender"] is None


def _tampered(token: str, run_id: str) -> str:
    """The same signature over a payload naming another run."""
    _payload, signature = token.split(".")
    other = base64.urlsafe_b64encode(json.dumps({"run": run_id}).encode()).rstrip(b"=")
    return f"{other.decode()}.{signature}"


def test_a_forged_token_is_401_naming_the_header(
    server: Any, server_factory: Callable[..., Any]
) -> None:
    me, victim, target = (new_run(server.api_url) for _ in range(3))
    other_server = server_factory()
    foreign = new_run(other_server.api_url)["run_token"]  # another database, another key
    for token in ["not-a-token", "", _tampered(me["run_token"], victim["id"]), foreign]:
        response = send(server.api_url, target["id"], "x", f"{RUN}{victim['id']}", token=token)
        assert response.status_code == 401, (token, response.text)
        assert RUN_TOKEN_HEADER in response.json()["detail"]
    assert inputs_of(server.api_url, target["id"]) == []


def test_tokens_outlive_a_server_restart(fresh_server: Any) -> None:
    """The signing key lives in the database, not in the process."""
    me, target = new_run(fresh_server.api_url), new_run(fresh_server.api_url)
    fresh_server.restart()
    response = send(fresh_server.api_url, target["id"], "after-restart", None, me["run_token"])
    assert response.status_code == 201, response.text
    assert response.json()["sender"] == f"{RUN}{me['id']}"


def test_a_claimed_run_comes_with_its_token(server: Any) -> None:
    api = server.api_url
    deployment = httpx.post(
        f"{api}/deployments",
        json={"flow_name": "claimed-flow", "name": "tokens", "entrypoint": "/x.py:f"},
    ).json()
    scheduled = httpx.post(f"{api}/deployments/{deployment['id']}/run", json={}).json()
    assert "run_token" not in scheduled  # who starts a deployment run does not execute it
    claimed = httpx.post(
        f"{api}/runners/claim",
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


@pytest.mark.parametrize("path", ["/api/health", "/", "/runs"])
def test_a_foreign_host_is_refused(server: Any, path: str) -> None:
    response = httpx.get(f"{server.ui_url}{path}", headers={"host": f"evil.example:{server.port}"})
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert f"evil.example:{server.port}" in detail and "INLOOP_ALLOWED_HOSTS" in detail


@pytest.mark.parametrize(
    "host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST", "[::1]:{port}", "app.localhost"]
)
def test_loopback_hosts_are_served(server: Any, host: str) -> None:
    headers = {"host": host.format(port=server.port)}
    response = httpx.get(f"{server.api_url}/health", headers=headers)
    assert response.status_code == 200, response.text


def test_allowed_hosts_setting(server_factory: Callable[..., Any]) -> None:
    info = server_factory(INLOOP_ALLOWED_HOSTS="inloop.example.com, .corp.example")
    url = f"{info.api_url}/health"
    for host in ["inloop.example.com", "inloop.example.com:8443", "a.corp.example", "corp.example"]:
        assert httpx.get(url, headers={"host": host}).status_code == 200, host
    for host in ["evil.example", "inloop.example.com.evil.example", "xcorp.example"]:
        assert httpx.get(url, headers={"host": host}).status_code == 400, host
    anything = server_factory(INLOOP_ALLOWED_HOSTS="*")
    response = httpx.get(f"{anything.api_url}/health", headers={"host": "evil.example"})
    assert response.status_code == 200


# --- Origin and content type on writes ----------------------------------------------------------


def test_cross_origin_writes_are_refused(server: Any) -> None:
    api = server.api_url
    run = new_run(api)
    for origin in ["http://evil.example", f"http://127.0.0.1:{server.port + 1}", "null"]:
        response = httpx.post(f"{api}/flow_runs/{run['id']}/cancel", headers={"origin": origin})
        assert response.status_code == 403, origin
        detail = response.json()["detail"]
        assert repr(origin) in detail and "INLOOP_CORS_ORIGINS" in detail
    assert httpx.get(f"{api}/flow_runs/{run['id']}").json()["state"]["type"] == "RUNNING"
    # Reads are not writes: a GET with a foreign Origin is answered (without CORS headers).
    read = httpx.get(f"{api}/flow_runs/{run['id']}", headers={"origin": "http://evil.example"})
    assert read.status_code == 200 and "access-control-allow-origin" not in read.headers


def test_same_origin_and_origin_less_writes_work(server: Any) -> None:
    api = server.api_url
    for origin in [None, server.ui_url, f"http://localhost:{server.port}"]:
        headers = {"origin": origin} if origin else {}
        if origin and "localhost" in origin:
            headers["host"] = f"localhost:{server.port}"  # what a browser there would send
        response = httpx.post(f"{api}/flow_runs", json={"flow_name": "same"}, headers=headers)
        assert response.status_code == 201, (origin, response.text)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_writes_that_are_not_json_are_415(server: Any, content_type: str) -> None:
    api = server.api_url
    run = new_run(api)
    deployment = httpx.post(
        f"{api}/deployments",
        json={"flow_name": "form-target", "name": "csrf", "entrypoint": "/x.py:f"},
    ).json()
    headers = {"content-type": content_type}
    for path in [f"/flow_runs/{run['id']}/cancel", f"/deployments/{deployment['id']}/run"]:
        response = httpx.post(f"{api}{path}", content=b"a=1", headers=headers)
        assert response.status_code == 415, (path, response.text)
        assert content_type in response.json()["detail"]
        assert "application/json" in response.json()["detail"]
    assert httpx.get(f"{api}/flow_runs/{run['id']}").json()["state"]["type"] == "RUNNING"
    started = httpx.get(f"{api}/flow_runs", params={"deployment_id": deployment["id"]}).json()
    assert started == []


def test_json_with_parameters_and_bodiless_writes_are_accepted(server: Any) -> None:
    api = server.api_url
    response = httpx.post(
        f"{api}/flow_runs",
        content=json.dumps({"flow_name": "charset"}).encode(),
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 201, response.text
    cancelled = httpx.post(f"{api}/flow_runs/{response.json()['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text


# --- CORS ---------------------------------------------------------------------------------------

APP_ORIGIN = "http://app.example:3000"


def test_cors_answers_only_the_configured_origins(
    server: Any, server_factory: Callable[..., Any]
) -> None:
    preflight = {
        "origin": APP_ORIGIN,
        "access-control-request-method": "POST",
        "access-control-request-headers": f"content-type, {RUN_TOKEN_HEADER.lower()}",
    }
    plain = httpx.options(f"{server.api_url}/flow_runs", headers=preflight)
    assert "access-control-allow-origin" not in plain.headers

    info = server_factory(INLOOP_CORS_ORIGINS=f"{APP_ORIGIN}/, https://other.example")
    api = info.api_url
    allowed = httpx.options(f"{api}/flow_runs", headers=preflight)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "POST" in allowed.headers["access-control-allow-methods"]
    created = httpx.post(
        f"{api}/flow_runs", json={"flow_name": "cors"}, headers={"origin": APP_ORIGIN}
    )
    assert created.status_code == 201, created.text
    assert created.headers["access-control-allow-origin"] == APP_ORIGIN

    refused = httpx.options(
        f"{api}/flow_runs", headers={**preflight, "origin": "http://evil.example"}
    )
    assert "access-control-allow-origin" not in refused.headers
    write = httpx.post(
        f"{api}/flow_runs", json={"flow_name": "cors"}, headers={"origin": "http://evil.example"}
    )
    assert write.status_code == 403
    assert "access-control-allow-origin" not in write.headers


# --- API key ------------------------------------------------------------------------------------


def test_the_bearer_scheme_is_case_insensitive(server_factory: Callable[..., Any]) -> None:
    info = server_factory(INLOOP_API_KEY="k3y")
    url = f"{info.api_url}/flow_runs"
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"]:
        response = httpx.get(url, headers={"authorization": f"{scheme} k3y"})
        assert response.status_code == 200, scheme
    for value in ["bearer wrong", "Basic k3y", "bearer", "k3y"]:
        assert httpx.get(url, headers={"authorization": value}).status_code == 401, value
