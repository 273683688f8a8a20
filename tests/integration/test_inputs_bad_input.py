"""Bad input to the inputs API over raw HTTP: the right status and a detail that explains.

In process (tests/inprocess.py), but for the size limit: a streamed body over a real socket."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.inprocess import AppClient

LIMIT = 4096


@pytest.fixture
def api(app_client: AppClient) -> httpx.Client:
    return app_client


def new_run(api: httpx.Client) -> str:
    response = api.post("/flow_runs", json={"flow_name": "bad-inputs", "state": "RUNNING"})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def detail_text(response: httpx.Response) -> str:
    return str(response.json()["detail"])


@pytest.mark.parametrize(
    "key", ["Bad_Key", "UPPER", "has space", "dot.ted", "slash/ed", "émoji-✓", "under_score"]
)
def test_invalid_key_is_422_naming_the_key(api: httpx.Client, key: str) -> None:
    run_id = new_run(api)
    response = api.post(f"/flow_runs/{run_id}/input", json={"key": key, "value": 1})
    assert response.status_code == 422, response.text
    assert repr(key) in detail_text(response) or key in detail_text(response)
    assert "^[a-z0-9-]+$" in detail_text(response)
    assert api.get(f"/flow_runs/{run_id}/inputs").json() == []


def test_empty_key_is_422(api: httpx.Client) -> None:
    response = api.post(f"/flow_runs/{new_run(api)}/input", json={"key": "", "value": 1})
    assert response.status_code == 422, response.text


def test_invalid_prefix_in_a_filter_is_422(api: httpx.Client) -> None:
    response = api.post(f"/flow_runs/{new_run(api)}/input/filter", json={"prefix": "Bad_Prefix"})
    assert response.status_code == 422, response.text
    assert "Bad_Prefix" in detail_text(response)


def test_duplicate_key_is_409_and_keeps_the_first_value(api: httpx.Client) -> None:
    run_id = new_run(api)
    key = f"str-auto-{uuid.uuid4().hex}"
    first = api.post(f"/flow_runs/{run_id}/input", json={"key": key, "value": {"value": "one"}})
    assert first.status_code == 201, first.text
    second = api.post(f"/flow_runs/{run_id}/input", json={"key": key, "value": {"value": "two"}})
    assert second.status_code == 409, second.text
    assert key in detail_text(second)
    assert api.get(f"/flow_runs/{run_id}/input/{key}").json()["value"] == {"value": "one"}


@pytest.mark.parametrize(
    "body",
    [
        b'{"key": "str-auto-1", "value": ',  # truncated
        b"not json at all",
        b'{"key": "str-auto-1", "value": NaN-ish}',
        b"",
    ],
)
def test_malformed_json_is_422(api: httpx.Client, body: bytes) -> None:
    run_id = new_run(api)
    response = api.post(
        f"/flow_runs/{run_id}/input", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"key": "str-auto-1"},  # no value
        {"value": 1},  # no key
        {"key": "str-auto-1", "value": 1, "surprise": True},  # unknown field
        {"key": 5, "value": 1},
        ["str-auto-1", 1],
    ],
)
def test_wrong_body_shape_is_422_listing_the_field(api: httpx.Client, body: Any) -> None:
    response = api.post(f"/flow_runs/{new_run(api)}/input", json=body)
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert isinstance(errors, list) and errors and all("loc" in e for e in errors)


def test_input_to_an_unknown_run_is_404(api: httpx.Client) -> None:
    run_id = str(uuid.uuid4())
    response = api.post(f"/flow_runs/{run_id}/input", json={"key": "str-auto-1", "value": 1})
    assert response.status_code == 404, response.text
    assert run_id in detail_text(response)


def test_reading_a_missing_key_is_404(api: httpx.Client) -> None:
    response = api.get(f"/flow_runs/{new_run(api)}/input/str-auto-nothing-here")
    assert response.status_code == 404, response.text
    assert "str-auto-nothing-here" in detail_text(response)


def test_body_over_the_size_limit_is_413(server_factory: Any) -> None:
    small = server_factory(INLOOP_MAX_REQUEST_BYTES=str(LIMIT))
    with httpx.Client(base_url=small.api_url, timeout=30) as api:
        run_id = new_run(api)
        url = f"/flow_runs/{run_id}/input"
        fits = api.post(url, json={"key": "str-auto-fits", "value": {"value": "x" * 100}})
        assert fits.status_code == 201, fits.text

        declared = api.post(url, json={"key": "str-auto-big", "value": {"value": "x" * 2 * LIMIT}})
        assert declared.status_code == 413, declared.text
        assert str(LIMIT) in detail_text(declared)

        def chunks() -> Iterator[bytes]:  # no content-length: the server must count
            yield b'{"key": "str-auto-streamed", "value": {"value": "'
            for _ in range(4):
                yield b"y" * LIMIT
            yield b'"}}'

        streamed = api.post(url, content=chunks(), headers={"content-type": "application/json"})
        assert streamed.status_code == 413, streamed.text

        keys = [i["key"] for i in api.get(f"/flow_runs/{run_id}/inputs").json()]
        assert keys == ["str-auto-fits"]
