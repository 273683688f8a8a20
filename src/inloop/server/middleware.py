"""ASGI middleware: API key, request size limit, security headers.

Written as plain ASGI so a rejected request never reaches routing or body parsing.
"""

from __future__ import annotations

import hmac
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "ApiKeyMiddleware",
    "BodyLimitMiddleware",
    "SecurityHeadersMiddleware",
    "send_json_error",
]

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)


async def send_json_error(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class ApiKeyMiddleware:
    """When a key is configured, every /api request must carry `Authorization: Bearer <key>`.

    The scheme name is case-insensitive (RFC 9110, section 11.1): `bearer` and `BEARER` work.
    """

    def __init__(self, app: ASGIApp, api_key: str | None) -> None:
        self.app = app
        self.expected = api_key.encode() if api_key else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.expected is None
            or scope["type"] != "http"
            or not (scope["path"] == "/api" or scope["path"].startswith("/api/"))
        ):
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, credentials = given.strip().partition(b" ")
        # The key itself is compared in constant time; the scheme name is no secret.
        if scheme.lower() != b"bearer" or not hmac.compare_digest(
            credentials.strip(), self.expected
        ):
            reason = "invalid API key" if given else "missing API key"
            await send_json_error(
                send, 401, f"{reason}: send 'Authorization: Bearer <INLOOP_API_KEY>'"
            )
            return
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Refuse request bodies over `limit` bytes with 413, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        message = (
            f"request body too large: the limit is {self.limit} bytes "
            "(setting INLOOP_MAX_REQUEST_BYTES)"
        )
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await send_json_error(send, 413, message)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            incoming = await receive()
            if incoming["type"] != "http.request":
                chunks = []
                await self.app(scope, _replay([incoming]), send)
                return
            chunk = incoming.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await send_json_error(send, 413, message)
                return
            chunks.append(chunk)
            more = incoming.get("more_body", False)
        body = b"".join(chunks)
        await self.app(scope, _replay([{"type": "http.request", "body": body}], receive), send)


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                ]
                if not scope["path"].startswith("/api/docs"):
                    headers.append((b"content-security-policy", CSP.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
