"""Bad input is a 4xx naming the field, never a 5xx, and never a stored row that breaks reads.

Each test is one cause the OpenAPI fuzzing found (DESIGN §6), through the app (in process) on the
test database (SQLite, or PostgreSQL with INLOOP_TEST_DATABASE_URL).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from inloop.bounds import MAX_INT64, MAX_JSON_DEPTH
from inloop.server.database.schema import flow_run_inputs, flow_runs, utcnow
from tests.inprocess import AppClient

if TYPE_CHECKING:
    pass

@pytest.fixture
def api(app_client: AppClient) -> httpx.Client:
    return app_client


def new_run(api: httpx.Client, **fields: Any) -> str:
    response = api.post("/flow_runs", json={"flow_name": "bounds", "state": "RUNNING", **fields})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"a": value}
    return value


def error_fields(response: httpx.Response) -> list[list[Any]]:
    assert response.status_code == 422, response.text
    return [error["loc"] for error in response.json()["detail"]]


def write_directly(api: AppClient, statement: Any) -> None:
    """What an older version (or a hand edit) could have stored, bypassing the API."""

    async def run() -> None:
        async with api.db.transaction() as tx:
            await tx.execute(statement)

    api.run(run())


# --- JSON depth -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/flow_runs", {"flow_name": "deep", "parameters": {"x": nested(300)}}, "parameters"),
        ("/flow_runs/{id}/input", {"key": "deep", "value": nested(300)}, "value"),
        ("/flow_runs/{id}/set_state", {"type": "COMPLETED", "details": nested(70)}, "details"),
        ("/flow_runs/{id}/pause", {"key": "deep", "schema": nested(300)}, "schema"),
    ],
    ids=["parameters", "input", "details", "schema"],
)
def test_deep_json_is_422_naming_the_field_and_runs_stay_readable(
    api: httpx.Client, path: str, body: dict[str, Any], field: str
) -> None:
    run_id = new_run(api)
    response = api.post(path.format(id=run_id), json=body)
    assert error_fields(response) == [["body", field]]
    assert f"nested deeper than {MAX_JSON_DEPTH} levels" in response.text
    assert api.get("/flow_runs").status_code == 200
    assert api.get(f"/flow_runs/{run_id}/inputs").json() == []
    assert api.get(f"/flow_runs/{run_id}").json()["state"]["type"] == "RUNNING"


def test_json_at_the_depth_limit_is_stored_and_read_back(api: httpx.Client) -> None:
    run_id = new_run(api)
    value = nested(MAX_JSON_DEPTH - 1)
    assert api.post(f"/flow_runs/{run_id}/input", json={"key": "ok", "value": value}).is_success
    assert api.get(f"/flow_runs/{run_id}/input/ok").json()["value"] == value


def test_deep_json_already_stored_is_cut_not_a_500(api: AppClient) -> None:
    run_id = new_run(api)
    write_directly(
        api,
        flow_run_inputs.insert().values(
            flow_run_id=run_id, key="old-deep", value=nested(300), created=utcnow()
        ),
    )
    write_directly(
        api, flow_runs.update().where(flow_runs.c.id == run_id).values(parameters=nested(300))
    )
    listed = api.get("/flow_runs", params={"flow_name": "bounds"})
    assert listed.status_code == 200, listed.text
    assert run_id in [run["id"] for run in listed.json()]
    read = api.get(f"/flow_runs/{run_id}/input/old-deep")
    assert read.status_code == 200, read.text
    assert "<cut: nested deeper than" in read.text
    # A receiving flow's filter reads it too, and moves past it to later inputs.
    assert api.post(f"/flow_runs/{run_id}/input", json={"key": "later", "value": 1}).is_success
    found = api.post(f"/flow_runs/{run_id}/input/filter", json={}).json()
    assert [item["key"] for item in found] == ["old-deep", "later"]


# --- text -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        ("/flow_runs", {"flow_name": "nul\x00name"}, ["body", "flow_name"]),
        ("/flow_runs/{id}/set_state", {"type": "FAILED", "message": "a\x00b"}, ["body", "message"]),
        ("/flow_runs/{id}/input", {"key": "k", "value": {"a": ["x\x00"]}}, ["body", "value"]),
        ("/flow_runs/{id}/input", {"key": "k", "value": {"a\x00": 1}}, ["body", "value"]),
        ("/flow_runs/{id}/input", {"key": "k", "value": 1, "sender": "\x00"}, ["body", "sender"]),
        ("/flow_runs/{id}/input", {"key": "k", "value": "\ud800"}, ["body", "value"]),
        ("/flow_runs/{id}/pause", {"key": "k", "description": "\x00"}, ["body", "description"]),
    ],
    ids=["flow-name", "message", "nested-string", "json-key", "sender", "surrogate", "description"],
)
def test_nul_and_lone_surrogates_are_422_naming_the_field(
    api: httpx.Client, path: str, body: dict[str, Any], loc: list[str]
) -> None:
    run_id = new_run(api)
    # json.dumps escapes a lone surrogate as \ud800, as a client in another language would.
    response = api.post(
        path.format(id=run_id), content=json.dumps(body),
        headers={"content-type": "application/json"},
    )
    assert error_fields(response) == [loc]
    assert api.get(f"/flow_runs/{run_id}/inputs").json() == []


def test_nul_in_query_and_path_parameters_is_422(api: httpx.Client) -> None:
    assert error_fields(api.get("/flow_runs", params={"flow_name": "a\x00"})) == [
        ["query", "flow_name"]
    ]
    assert error_fields(api.get("/flow_runs/a%00b")) == [["path", "flow_run_id"]]
    too_long = "x" * 37  # longer than any id column: a 422, not the database's truncation error
    response = api.post(f"/flow_runs/{too_long}/input", json={"key": "k", "value": 1})
    assert error_fields(response) == [["path", "flow_run_id"]]
    assert error_fields(api.get("/deployments/a%00b")) == [["path", "deployment_id"]]
    assert error_fields(api.get("/blocks/kind/a%00b")) == [["path", "name"]]


def test_nul_in_log_records_is_422(api: httpx.Client) -> None:
    record = {"flow_run_id": new_run(api), "level": 20, "logger": "x", "message": "a\x00",
              "timestamp": "2026-01-01T00:00:00Z"}
    assert error_fields(api.post("/logs", json=[record])) == [["body", 0, "message"]]


# --- numbers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "loc"),
    [
        ("GET", "/flow_runs", {"params": {"offset": MAX_INT64 + 1}}, ["query", "offset"]),
        ("GET", "/inbox", {"params": {"offset": 2**64}}, ["query", "offset"]),
        ("GET", "/flow_runs/{id}/logs", {"params": {"after_id": 2**63}}, ["query", "after_id"]),
        ("GET", "/flow_runs/{id}/wait", {"params": {"after_seq": 2**70}}, ["query", "after_seq"]),
        ("POST", "/flow_runs/{id}/input/filter", {"json": {"after_seq": 2**63}},
         ["body", "after_seq"]),
        ("POST", "/flow_runs/{id}/set_state", {"json": {"type": "FAILED", "expected_seq": -1}},
         ["body", "expected_seq"]),
        ("POST", "/flow_runs/{id}/pause", {"json": {"key": "k", "timeout": 1e300}},
         ["body", "timeout"]),
        ("POST", "/logs", {"json": [{"flow_run_id": str(uuid.uuid4()), "level": 2**40,
                                     "logger": "x", "message": "m",
                                     "timestamp": "2026-01-01T00:00:00Z"}]},
         ["body", 0, "level"]),
    ],
    ids=["offset", "inbox-offset", "after-id", "wait-after-seq", "filter-after-seq",
         "expected-seq", "pause-timeout", "log-level"],
)
def test_integers_that_do_not_fit_are_422(
    api: httpx.Client, method: str, path: str, kwargs: dict[str, Any], loc: list[Any]
) -> None:
    run_id = new_run(api)
    response = api.request(method, path.format(id=run_id), **kwargs)
    assert error_fields(response) == [loc]


def test_the_largest_cursors_are_answered(api: httpx.Client) -> None:
    run_id = new_run(api)
    assert api.get("/flow_runs", params={"offset": MAX_INT64}).json() == []
    assert api.get(f"/flow_runs/{run_id}/logs", params={"after_id": MAX_INT64}).json() == []
    filtered = api.post(f"/flow_runs/{run_id}/input/filter", json={"after_seq": MAX_INT64})
    assert filtered.status_code == 200 and filtered.json() == []


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_in_json_are_422(api: httpx.Client, value: str) -> None:
    run_id = new_run(api)
    raw = f'{{"key": "k", "value": {{"x": {value}}}}}'
    response = api.post(
        f"/flow_runs/{run_id}/input", content=raw, headers={"content-type": "application/json"}
    )
    assert error_fields(response) == [["body", "value"]]


# --- timestamps -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "timestamp", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00", "1066-10-14T09:00:00Z"]
)
def test_out_of_range_log_timestamps_are_422(api: httpx.Client, timestamp: str) -> None:
    record = {"flow_run_id": new_run(api), "level": 20, "logger": "x", "message": "m",
              "timestamp": timestamp}
    response = api.post("/logs", json=[record])
    assert error_fields(response) == [["body", 0, "timestamp"]]
    assert "out of range" in response.text


# --- JSON Schemas -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "schema",
    [{"type": "no-such-type"}, {"properties": {"a": {"pattern": "("}}}, {"minimum": "x"}],
    ids=["type", "regex", "minimum"],
)
def test_invalid_deployment_parameter_schema_is_422(api: httpx.Client, schema: Any) -> None:
    response = api.post(
        "/deployments",
        json={"flow_name": "bounds", "name": f"bad-{uuid.uuid4().hex[:8]}",
              "entrypoint": "x.py:f", "parameter_schema": schema},
    )
    assert error_fields(response) == [["body", "parameter_schema"]]
    assert "not a valid JSON schema" in response.text


@pytest.mark.parametrize(
    ("schema", "words"),
    [
        ({"type": "no-such-type"}, "not a valid JSON schema"),
        ("just a string", "not a valid JSON schema"),
        ({"$ref": "#/definitions/missing"}, "does not resolve"),
        ({"$ref": "http://127.0.0.1:9/elsewhere.json"}, "does not resolve"),
        ({"$ref": "#"}, "endless loop"),
    ],
    ids=["invalid", "not-an-object", "dangling-ref", "remote-ref", "cyclic-ref"],
)
def test_resume_with_a_stored_unusable_schema_is_409(
    api: AppClient, schema: Any, words: str
) -> None:
    run_id = new_run(api)
    assert api.post(f"/flow_runs/{run_id}/pause", json={"key": "ask"}).is_success
    # Stored the way an older version let it in: as the pause's schema input.
    write_directly(
        api,
        flow_run_inputs.insert().values(
            flow_run_id=run_id, key="ask-schema", value=schema, created=utcnow()
        ),
    )
    response = api.post(f"/flow_runs/{run_id}/resume", json={"run_input": {"a": 1}})
    assert response.status_code == 409, response.text
    assert words in response.json()["detail"] and "'ask'" in response.json()["detail"]
    assert api.get(f"/flow_runs/{run_id}").json()["state"]["type"] == "PAUSED"
    assert api.post(f"/flow_runs/{run_id}/cancel").is_success


def test_running_a_deployment_with_a_stored_unusable_schema_is_409(api: AppClient) -> None:
    from inloop.server.database.schema import deployments

    name = f"old-{uuid.uuid4().hex[:8]}"
    created = api.post("/deployments", json={"flow_name": "bounds", "name": name,
                                              "entrypoint": "x.py:f"})
    assert created.status_code == 201, created.text
    write_directly(
        api,
        deployments.update()
        .where(deployments.c.id == created.json()["id"])
        .values(parameter_schema={"type": 5}),
    )
    response = api.post(f"/deployments/name/bounds/{name}/run", json={"parameters": {}})
    assert response.status_code == 409, response.text
    assert "parameter schema is unusable" in response.json()["detail"]


# --- OpenAPI --------------------------------------------------------------------------------


def test_openapi_declares_errors_and_key_pattern_and_hides_the_catch_all(
    api: httpx.Client,
) -> None:
    document = api.get("/openapi.json").json()
    paths = document["paths"]
    assert not [p for p in paths if "{rest" in p]
    resume = paths["/api/flow_runs/{flow_run_id}/resume"]["post"]["responses"]
    assert {"404", "409", "413", "422"} <= set(resume)
    assert "401" not in resume
    read_input = paths["/api/flow_runs/{flow_run_id}/input/{key}"]["get"]["parameters"]
    key = next(p for p in read_input if p["name"] == "key")
    assert key["schema"]["pattern"] == "^[a-z0-9-]+$"
    input_body = document["components"]["schemas"]["InputCreate"]["properties"]["key"]
    assert input_body["pattern"] == "^[a-z0-9-]+$"


def test_openapi_declares_401_when_an_api_key_is_set(
    app_factory: Callable[..., AppClient],
) -> None:
    keyed = app_factory(api_key="sekrit")
    paths = keyed.get("/openapi.json", headers={"authorization": "Bearer sekrit"}).json()["paths"]
    assert all("401" in op["responses"] for ops in paths.values() for op in ops.values())
