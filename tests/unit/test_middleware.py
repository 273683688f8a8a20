"""The API key check and the body limit, as ASGI middleware around a tiny echo app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from inloop.server.middleware import ApiKeyMiddleware, BodyLimitMiddleware


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer 200 with the request body it read."""
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def client_for(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")  # type: ignore[arg-type]


@pytest.mark.parametrize("path", ["/api/health", "/api/flow_runs", "/api"])
async def test_no_key_configured_lets_everything_through(path: str) -> None:
    async with client_for(ApiKeyMiddleware(echo, api_key=None)) as client:
        assert (await client.get(path)).status_code == 200


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing API key"),
        ({"authorization": "Bearer wrong"}, "invalid API key"),
        ({"authorization": "Bearer s3cret-but-longer"}, "invalid API key"),
        ({"authorization": "s3cret"}, "invalid API key"),
        ({"authorization": "Basic s3cret"}, "invalid API key"),
    ],
)
async def test_api_requests_without_the_right_key_get_401(
    headers: dict[str, str], reason: str
) -> None:
    async with client_for(ApiKeyMiddleware(echo, api_key="s3cret")) as client:
        for path in ("/api", "/api/health", "/api/flow_runs/x"):
            response = await client.get(path, headers=headers)
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == "Bearer"
            detail = response.json()["detail"]
            assert reason in detail
            assert "Authorization: Bearer" in detail
            assert "s3cret" not in detail


async def test_the_right_key_gets_through() -> None:
    async with client_for(ApiKeyMiddleware(echo, api_key="s3cret")) as client:
        response = await client.post(
            "/api/flow_runs", content=b"hello", headers={"authorization": "Bearer s3cret"}
        )
        assert response.status_code == 200
        assert response.content == b"hello"


@pytest.mark.parametrize("path", ["/", "/runs/abc/resume", "/assets/index.js", "/apiary"])
async def test_the_ui_is_not_behind_the_key(path: str) -> None:
    async with client_for(ApiKeyMiddleware(echo, api_key="s3cret")) as client:
        assert (await client.get(path)).status_code == 200


async def test_body_at_the_limit_reaches_the_app_whole() -> None:
    async with client_for(BodyLimitMiddleware(echo, limit=10)) as client:
        response = await client.post("/api/x", content=b"0123456789")
        assert response.status_code == 200
        assert response.content == b"0123456789"


async def test_declared_body_over_the_limit_gets_413() -> None:
    async with client_for(BodyLimitMiddleware(echo, limit=10)) as client:
        response = await client.post("/api/x", content=b"0123456789X")
        assert response.status_code == 413
        assert "10 bytes" in response.json()["detail"]
        assert "INLOOP_MAX_REQUEST_BYTES" in response.json()["detail"]


async def test_streamed_body_over_the_limit_gets_413() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"abcd"

    async with client_for(BodyLimitMiddleware(echo, limit=10)) as client:
        response = await client.post("/api/x", content=chunks())
        assert response.status_code == 413


async def test_streamed_body_under_the_limit_is_reassembled() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for part in (b"ab", b"cd", b"ef"):
            yield part

    async with client_for(BodyLimitMiddleware(echo, limit=10)) as client:
        response = await client.post("/api/x", content=chunks())
        assert response.status_code == 200
        assert response.content == b"abcdef"
