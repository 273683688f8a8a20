"""Keep browsers out of what they should not reach: Host, Origin and content-type checks.

A server on 127.0.0.1 with no API key trusts whoever can connect. Any web page the user visits
can make the browser connect, so:

- `HostCheckMiddleware` refuses a `Host` the server does not answer to. A page on a name the
  attacker controls can re-point that name at 127.0.0.1 (DNS rebinding) and then read the API
  as "same origin"; its requests still carry the attacker's name in `Host`.
- `WriteGuardMiddleware` refuses API writes whose `Origin` is another site (CSRF), and writes
  whose body is not JSON: a cross-site form (text/plain, form-encoded, multipart) is a "simple"
  request that a browser sends without asking, even from browsers that omit `Origin`.

Ports are not compared for `Host`: a tunnel or proxy (`ssh -L 8080:127.0.0.1:4200`) changes the
port the browser sees, and rebinding is about names, not ports.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from inloop.server.middleware import send_json_error

__all__ = [
    "HostCheckMiddleware",
    "HostPolicy",
    "WriteGuardMiddleware",
    "same_origin",
    "split_host",
]

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_PORTS = {"http": 80, "https": 443}
WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::"})


def split_host(value: str) -> tuple[str, int | None]:
    """`Host` header -> (lower-case name or address, port or None); "[::1]:80" -> ("::1", 80)."""
    value = value.strip().lower()
    port: int | None = None
    if value.startswith("["):
        address, _, rest = value[1:].partition("]")
        if rest.startswith(":") and rest[1:].isdigit():
            port = int(rest[1:])
        return address, port
    name, sep, maybe_port = value.rpartition(":")
    if sep and ":" not in name and maybe_port.isdigit():
        value, port = name, int(maybe_port)
    return value.rstrip("."), port


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


@dataclass(frozen=True)
class HostPolicy:
    """Which `Host` names and addresses the server answers to.

    Always: loopback addresses and `localhost` (browsers never let a page re-point those).
    Bound to one address or name: that one too. Bound to every interface (0.0.0.0 or ::): any
    IP address (a browser sends an address in `Host` only when the user typed it; rebinding
    needs a name) and this machine's host name. Plus the names in INLOOP_ALLOWED_HOSTS, where
    ".example.com" also allows its subdomains and "*" allows any `Host`.
    """

    names: frozenset[str]
    suffixes: tuple[str, ...] = ()
    any_address: bool = False
    any_host: bool = False

    @classmethod
    def for_server(cls, bind_host: str, configured: Iterable[str]) -> HostPolicy:
        bind = bind_host.strip().lower().strip("[]")
        names = {"localhost"}
        suffixes = [".localhost"]
        any_address = bind in WILDCARD_BINDS
        if any_address:
            hostname = socket.gethostname().lower()
            names.update({hostname, hostname.split(".")[0]})
        elif bind:
            names.add(bind)
        any_host = False
        for entry in configured:
            if entry == "*":
                any_host = True
            elif entry.startswith("."):
                suffixes.append(entry)
                names.add(entry[1:])
            else:
                names.add(split_host(entry)[0])
        return cls(frozenset(names), tuple(suffixes), any_address, any_host)

    def allows(self, host: str) -> bool:
        if self.any_host:
            return True
        address = _ip(host)
        if address is not None:
            return self.any_address or address.is_loopback or host in self.names
        return host in self.names or host.endswith(self.suffixes)


class HostCheckMiddleware:
    """Answer 400 to a request whose `Host` is not one the server answers to."""

    def __init__(self, app: ASGIApp, policy: HostPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        raw = _header(scope, b"host")
        # No Host at all (HTTP/1.0, a test transport) cannot be a browser's rebinding request.
        if raw is not None:
            name, _ = split_host(raw)
            if not self.policy.allows(name):
                await send_json_error(
                    send,
                    400,
                    f"this server does not answer to Host {raw!r} (a guard against DNS "
                    f"rebinding); if that is a name of this server, add {name!r} to "
                    "INLOOP_ALLOWED_HOSTS (comma-separated; '*' allows any)",
                )
                return
        await self.app(scope, receive, send)


class WriteGuardMiddleware:
    """API writes: 403 for a foreign `Origin`, 415 for a body that is not JSON."""

    def __init__(self, app: ASGIApp, cors_origins: Iterable[str]) -> None:
        self.app = app
        self.cors_origins = frozenset(cors_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in WRITE_METHODS
            or not (scope["path"] == "/api" or scope["path"].startswith("/api/"))
        ):
            await self.app(scope, receive, send)
            return
        origin = _header(scope, b"origin")
        if origin is not None and not self._allowed_origin(origin, scope):
            await send_json_error(
                send,
                403,
                f"cross-origin {scope['method']} from {origin!r} refused: only the server's own "
                "pages may write to the API. To let that site call it, add its origin to "
                "INLOOP_CORS_ORIGINS (comma-separated).",
            )
            return
        content_type = _header(scope, b"content-type")
        if content_type is not None and not _is_json(content_type):
            await send_json_error(
                send,
                415,
                f"unsupported content type {content_type!r}: API writes take a JSON body "
                "(send 'Content-Type: application/json', or no body and no content type)",
            )
            return
        await self.app(scope, receive, send)

    def _allowed_origin(self, origin: str, scope: Scope) -> bool:
        normalized = origin.strip().lower().rstrip("/")
        if "*" in self.cors_origins or normalized in self.cors_origins:
            return True
        host = _header(scope, b"host")
        return host is not None and same_origin(normalized, host)


def same_origin(origin: str, host_header: str) -> bool:
    """Is `origin` (or a full URL, like a `Referer`) the site this request was sent to?

    Schemes are not compared: behind a TLS-terminating proxy the page is https while the server
    sees http. Without a port in `Host` (a proxy on 80/443), the origin must use its default.
    """
    parts = urlsplit(origin.strip().lower())
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return False  # "null" (sandboxed frames, file: pages) and the like
    try:
        origin_port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        return False
    host, port = split_host(host_header)
    if parts.hostname.rstrip(".") != host:
        return False
    return origin_port == (port if port is not None else DEFAULT_PORTS[parts.scheme])


def _is_json(content_type: str) -> bool:
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None
