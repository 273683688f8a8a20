"""A client's mistakes get the right status and a JSON `detail` that explains; never a 500.

Raw HTTP goes to the app in process (tests/inprocess.py); what needs a URL (inloop's client, a
flow, a flow script), a body streamed over a socket, or the bound address, to a server process.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from inloop import flow, get_client
from inloop.client import InloopAPIError, ObjectNotFound, WrongState
from inloop.schemas import StateType
from tests.inprocess import AppClient

if TYPE_CHECKING:
    from tests.servers import ServerInfo


@pytest.fixture
def api(app_client: AppClient) -> httpx.Client:
    return app_client


def new_run(api: httpx.Client, state: str = "RUNNING") -> dict[str, Any]:
    response = api.post("/flow_runs", json={"flow_name": "errors", "state": state})
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def fields(response: httpx.Response) -> set[str]:
    """The fields named by a 422's errors (`["body", "field", ...]`, `["query", "name", ...]`)."""
    return {str(e["loc"][1]) for e in response.json()["detail"]}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/flow_runs/{id}"),
        ("GET", "/flow_runs/{id}/states"),
        ("GET", "/flow_runs/{id}/logs"),
        ("GET", "/flow_runs/{id}/wait?timeout=0"),
        ("GET", "/flow_runs/{id}/inputs"),
        ("POST", "/flow_runs/{id}/resume"),
        ("POST", "/flow_runs/{id}/cancel"),
        ("POST", "/flow_runs/{id}/set_state"),
        ("POST", "/flow_runs/{id}/input"),
        ("POST", "/flow_runs/{id}/input/filter"),
    ],
)
def test_unknown_run_is_404_naming_the_id(api: httpx.Client, method: str, path: str) -> None:
    run_id = str(uuid.uuid4())
    bodies = {
        "resume": {"run_input": None},
        "set_state": {"type": "RUNNING"},
        "input": {"key": "a-key", "value": 1},
        "filter": {},
    }
    body = next((b for suffix, b in bodies.items() if path.endswith(suffix)), None)
    response = api.request(method, path.format(id=run_id), json=body)
    assert response.status_code == 404, response.text
    assert run_id in response.json()["detail"]


def test_not_a_uuid_is_still_a_404_not_a_500(api: httpx.Client) -> None:
    response = api.get("/flow_runs/definitely-not-a-uuid")
    assert response.status_code == 404
    assert "definitely-not-a-uuid" in response.json()["detail"]


@pytest.mark.usefixtures("server")
def test_client_raises_object_not_found() -> None:
    run_id = uuid.uuid4()
    with pytest.raises(ObjectNotFound) as caught:
        get_client().read_flow_run(run_id)
    assert caught.value.status_code == 404
    assert str(run_id) in str(caught.value)


def test_unknown_endpoint_is_a_json_404(api: httpx.Client) -> None:
    response = api.get("/no/such/thing")
    assert response.status_code == 404
    assert "/api/no/such/thing" in response.json()["detail"]


@pytest.mark.parametrize(
    "raw", [b"{not json", b"", b"[1, 2", b"\xff\xfe", b'{"flow_name": "x",}']
)
def test_malformed_json_is_422(api: httpx.Client, raw: bytes) -> None:
    response = api.post("/flow_runs", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert isinstance(response.json()["detail"], list)


def test_wrong_field_types_list_each_field(api: httpx.Client) -> None:
    response = api.post(
        "/flow_runs",
        json={"flow_name": 5, "parameters": "not-a-dict", "state": "NOPE", "surprise": 1},
    )
    assert response.status_code == 422
    assert fields(response) >= {"flow_name", "parameters", "state", "surprise"}
    for error in response.json()["detail"]:
        assert error["loc"][0] == "body" and error["msg"]


def test_missing_required_field_is_422(api: httpx.Client) -> None:
    response = api.post("/flow_runs", json={})
    assert response.status_code == 422
    assert fields(response) == {"flow_name"}


def test_bad_query_parameters_are_422(api: httpx.Client) -> None:
    response = api.get("/flow_runs", params={"limit": "lots", "state": "SLEEPY", "offset": -1})
    assert response.status_code == 422
    assert fields(response) >= {"limit", "state", "offset"}
    run = new_run(api)
    response = api.get(f"/flow_runs/{run['id']}/wait", params={"timeout": 9999})
    assert response.status_code == 422
    assert fields(response) == {"timeout"}


def test_set_state_body_is_validated(api: httpx.Client) -> None:
    run = new_run(api)
    response = api.post(
        f"/flow_runs/{run['id']}/set_state", json={"type": 3, "details": [], "expected_seq": "x"}
    )
    assert response.status_code == 422
    assert fields(response) >= {"type", "details", "expected_seq"}


def test_input_key_is_checked(api: httpx.Client) -> None:
    run = new_run(api)
    response = api.post(f"/flow_runs/{run['id']}/input", json={"key": "Bad Key!", "value": 1})
    assert response.status_code == 422
    assert "Bad Key!" in str(response.json()["detail"])


def test_duplicate_input_key_with_another_value_is_409(api: httpx.Client) -> None:
    run = new_run(api)
    body = {"key": "answer-1", "value": {"x": 1}}
    assert api.post(f"/flow_runs/{run['id']}/input", json=body).status_code == 201
    # The same key and value again is a retry, not a clash (see test_input_delivery.py).
    response = api.post(f"/flow_runs/{run['id']}/input", json={**body, "value": {"x": 2}})
    assert response.status_code == 409
    assert "answer-1" in response.json()["detail"]


def test_invalid_transition_is_409_naming_the_current_state(api: httpx.Client) -> None:
    run = new_run(api)
    done = api.post(f"/flow_runs/{run['id']}/set_state", json={"type": "COMPLETED"})
    assert done.status_code == 200
    again = api.post(f"/flow_runs/{run['id']}/set_state", json={"type": "RUNNING"})
    assert again.status_code == 409
    assert "Completed" in again.json()["detail"]
    assert run["name"] in again.json()["detail"]


def test_resuming_a_run_that_is_not_paused_is_409(api: httpx.Client) -> None:
    run = new_run(api)
    response = api.post(f"/flow_runs/{run['id']}/resume", json={"run_input": None})
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert "is not paused (state: Running)" in detail
    assert run["name"] in detail


def test_new_run_in_a_final_state_is_409(api: httpx.Client) -> None:
    response = api.post("/flow_runs", json={"flow_name": "errors", "state": "COMPLETED"})
    assert response.status_code == 409
    assert "COMPLETED" in response.json()["detail"]


def test_stale_expected_seq_is_409(api: httpx.Client) -> None:
    run = new_run(api)
    response = api.post(
        f"/flow_runs/{run['id']}/set_state",
        json={"type": "COMPLETED", "expected_seq": run["state_seq"] - 1},
    )
    assert response.status_code == 409
    assert "Running" in response.json()["detail"]


@pytest.mark.usefixtures("server")
def test_client_raises_wrong_state_with_the_detail() -> None:
    @flow(name=f"done-{uuid.uuid4().hex[:8]}")
    def done() -> str:
        from inloop import get_run_context

        return str(get_run_context().flow_run.id)

    run_id = done()
    with pytest.raises(WrongState) as caught:
        get_client().resume_flow_run(run_id)
    assert caught.value.status_code == 409
    assert "state: Completed" in str(caught.value)
    with pytest.raises(InloopAPIError, match="cannot move from Completed to Running"):
        get_client().set_flow_run_state(run_id, StateType.RUNNING)


# --- body limit ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_body_server(module_server_factory: Callable[..., ServerInfo]) -> ServerInfo:
    return module_server_factory(INLOOP_MAX_REQUEST_BYTES="2048")


def test_body_over_the_limit_is_413(small_body_server: ServerInfo) -> None:
    url = f"{small_body_server.api_url}/flow_runs"
    big = {"flow_name": "big", "parameters": {"blob": "x" * 4096}}
    response = httpx.post(url, json=big)
    assert response.status_code == 413
    assert "2048 bytes" in response.json()["detail"]
    small = {"flow_name": "small", "parameters": {"blob": "x" * 100}}
    assert httpx.post(url, json=small).status_code == 201


def test_streamed_body_over_the_limit_is_413(small_body_server: ServerInfo) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"flow_name": "big", "parameters": {"blob": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}}'

    response = httpx.post(
        f"{small_body_server.api_url}/flow_runs",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413


def test_default_limit_is_16_mib(api: httpx.Client) -> None:
    response = api.post(
        "/logs", content=b"[" + b" " * (16 * 1024 * 1024) + b"]",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert str(16 * 1024 * 1024) in response.json()["detail"]


# --- API key ---------------------------------------------------------------------------------

KEY = "test-key-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def keyed_server(module_server_factory: Callable[..., ServerInfo]) -> ServerInfo:
    return module_server_factory(INLOOP_API_KEY=KEY)


@pytest.fixture(scope="module")
def keyed_app(module_app_factory: Callable[..., AppClient]) -> AppClient:
    return module_app_factory(api_key=KEY)


@pytest.mark.parametrize("path", ["/health", "/flow_runs", "/openapi.json", "/inbox"])
def test_api_key_is_required(keyed_app: AppClient, path: str) -> None:
    url = f"{keyed_app.api_url}{path}"
    missing = keyed_app.get(url)
    assert missing.status_code == 401
    assert "missing API key" in missing.json()["detail"]
    wrong = keyed_app.get(url, headers={"authorization": "Bearer not-the-key"})
    assert wrong.status_code == 401
    assert "invalid API key" in wrong.json()["detail"]
    right = keyed_app.get(url, headers={"authorization": f"Bearer {KEY}"})
    assert right.status_code == 200


def test_ui_is_served_without_the_key(keyed_app: AppClient) -> None:
    response = keyed_app.get(f"{keyed_app.ui_url}/")
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]


def test_inloop_client_sends_the_key(
    keyed_server: ServerInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INLOOP_API_URL", keyed_server.api_url)
    monkeypatch.setenv("INLOOP_API_KEY", KEY)
    assert get_client().health().status == "ok"

    @flow(name="keyed")
    def keyed() -> int:
        return 7

    assert keyed() == 7
    [run] = get_client().read_flow_runs(flow_name="keyed")
    assert run.state.is_completed()

    monkeypatch.setenv("INLOOP_API_KEY", "wrong")
    with pytest.raises(InloopAPIError) as caught:
        get_client().health()
    assert caught.value.status_code == 401


def test_flow_script_with_the_key_in_its_env(
    keyed_server: ServerInfo, run_flow_script: Callable[..., Any]
) -> None:
    script = "from inloop import flow\n@flow\ndef keyed_script():\n    return 1\nkeyed_script()\n"
    process = run_flow_script(script, env=keyed_server.env)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    without = run_flow_script(script, env={**keyed_server.env, "INLOOP_API_KEY": ""})
    _, err = without.communicate(timeout=60)
    assert without.returncode != 0
    assert "401" in err and "API key" in err


# --- binding -----------------------------------------------------------------------------------


def listening_addresses(port: int) -> set[str]:
    """Local addresses (hex, as in /proc/net/tcp*) with a socket listening on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


def test_server_binds_loopback_by_default(server_factory: Callable[..., ServerInfo]) -> None:
    info = server_factory(host=None)
    assert listening_addresses(info.port) == {"0100007F"}  # 127.0.0.1, and nothing else
