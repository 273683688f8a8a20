"""Where automations may send: public addresses only, unless INLOOP_AUTOMATION_ALLOW says more.

Webhook and notify URLs are written by admins, but a URL that reaches the server's own network
(cloud metadata at 169.254.169.254, a database on 10.x, an admin port on 127.0.0.1) turns
"notify me" into a request forgery from inside. So every address a delivery connects to must be
public (`ipaddress.is_global`), or inside a CIDR, or reached by a host name, that
INLOOP_AUTOMATION_ALLOW lists.

The check is on the very addresses connected to, so a name that resolves to a public address
when checked and to a private one a moment later (DNS rebinding) gains nothing:

- Webhooks (httpx): the name is resolved once, every address is checked, and the request goes to
  the first checked address, with the URL's Host header and TLS server name (SNI, certificate
  check) kept. Connections are not reused across deliveries.
- Notifications (Apprise, which does its own HTTP and SMTP): they run inside `guarded(policy)`,
  which checks every result of `socket.getaddrinfo` made on the notification's behalf, the
  lookups Apprise's connections are made from (requests/urllib3 and smtplib connect to what
  getaddrinfo answered). Residual risk: a plugin that connected by some other means (its own
  resolver, a subprocess) would not be seen; none of Apprise's network plugins does, and plugins
  that are not network services (desktop, D-Bus, syslog, USB) are refused by scheme up front.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import ipaddress
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from inloop.settings import Settings

__all__ = ["EgressPolicy", "EgressRefused", "guarded"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network



class EgressRefused(OSError):
    """A delivery would connect where the policy forbids; the message names the address and
    the setting. An OSError, so libraries that connect treat it as a failed connection."""


def _unmapped(address: IPAddress) -> IPAddress:
    """::ffff:10.0.0.1 is 10.0.0.1 on the wire: judged as that."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True)
class EgressPolicy:
    hosts: frozenset[str]
    networks: tuple[IPNetwork, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> EgressPolicy:
        hosts, networks = settings.automation_allow_entries
        return cls(frozenset(hosts), tuple(networks))

    def check(self, host: str, address: str) -> None:
        """Refuse (EgressRefused) connecting to `address`, which `host` resolved to."""
        if host.lower().rstrip(".") in self.hosts:
            return
        ip = _unmapped(ipaddress.ip_address(address.split("%", 1)[0]))  # no IPv6 zone id
        if (ip.is_global and not ip.is_multicast) or any(ip in net for net in self.networks):
            return
        named = address if host == address else f"{host!r} ({address})"
        raise EgressRefused(
            f"automations may not connect to {named}: it is not a public address. To allow an "
            f"internal target, add its host or network to INLOOP_AUTOMATION_ALLOW (e.g. "
            f"INLOOP_AUTOMATION_ALLOW={host if host != address else address})"
        )

    async def resolve(self, host: str, port: int) -> list[str]:
        """Every address `host` resolves to, each checked: IPv4 first (EgressRefused if any
        is forbidden; OSError if the name does not resolve)."""
        found = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM
        )
        addresses = sorted({str(info[4][0]) for info in found}, key=lambda a: ":" in a)
        for address in addresses:
            self.check(host, address)
        return addresses


# --- the guard around Apprise's own connections -------------------------------------------------


@dataclass(frozen=True)
class _Guard:
    policy: EgressPolicy
    refusals: list[str]


# A context variable, not a thread-local: Apprise sends from its own worker threads, and submits
# that work with a copy of the caller's context (as asyncio.to_thread does), so the guard follows
# the notification into every thread that works for it, and nowhere else.
_guard: contextvars.ContextVar[_Guard | None] = contextvars.ContextVar(
    "inloop_egress_guard", default=None
)
_install_lock = threading.Lock()
_resolve = socket.getaddrinfo


def _guarded_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
    found = _resolve(host, port, *args, **kwargs)
    guard = _guard.get()
    if guard is not None:
        name = host.decode() if isinstance(host, bytes) else str(host)
        for info in found:
            try:
                guard.policy.check(name, str(info[4][0]))
            except EgressRefused as refused:
                guard.refusals.append(str(refused))
                raise
    return found


@contextlib.contextmanager
def guarded(policy: EgressPolicy) -> Iterator[list[str]]:
    """Within this block (and the threads it hands work to with its context), every name
    resolved, and so every address connected to, is one `policy` allows; the list yielded
    collects the refusals, for the error message.

    socket.getaddrinfo is wrapped once per process: code outside a guarded block resolves
    exactly as before (the wrapper only looks at a context variable)."""
    with _install_lock:
        if socket.getaddrinfo is not _guarded_getaddrinfo:
            socket.getaddrinfo = _guarded_getaddrinfo
    refusals: list[str] = []
    token = _guard.set(_Guard(policy, refusals))
    try:
        yield refusals
    finally:
        _guard.reset(token)
