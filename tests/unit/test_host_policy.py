"""Which Host values the server answers to, for each way it can be bound.

Binding to every interface is not done in tests (it would expose a port off this machine), so
that case is covered here on the policy itself; the loopback case also runs against a real server
in tests/integration/test_security.py.
"""

from __future__ import annotations

import socket

import pytest

from inloop.server.security import HostPolicy, split_host


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:4200", ("127.0.0.1", 4200)),
        ("LocalHost", ("localhost", None)),
        ("[::1]:4200", ("::1", 4200)),
        ("[::1]", ("::1", None)),
        ("example.com.:80", ("example.com", 80)),
        ("a:b:c", ("a:b:c", None)),
    ],
)
def test_split_host(value: str, expected: tuple[str, int | None]) -> None:
    assert split_host(value) == expected


def test_loopback_bind_answers_loopback_names_only() -> None:
    policy = HostPolicy.for_server("127.0.0.1", [])
    for host in ["127.0.0.1", "127.0.0.2", "::1", "localhost", "ui.localhost"]:
        assert policy.allows(host), host
    for host in ["10.0.0.5", "evil.example", "localhost.evil.example", socket.gethostname()]:
        assert not policy.allows(host), host


def test_a_named_or_addressed_bind_adds_that_one() -> None:
    assert HostPolicy.for_server("10.1.2.3", []).allows("10.1.2.3")
    assert not HostPolicy.for_server("10.1.2.3", []).allows("10.1.2.4")
    assert HostPolicy.for_server("inloop.lan", []).allows("inloop.lan")
    assert HostPolicy.for_server("[::1]", []).allows("::1")


@pytest.mark.parametrize("bind", ["0.0.0.0", "::"])
def test_every_interface_answers_any_address_and_this_machines_name(bind: str) -> None:
    policy = HostPolicy.for_server(bind, [])
    hostname = socket.gethostname().lower()
    for host in ["192.168.1.20", "10.0.0.5", "fe80::1", hostname, hostname.split(".")[0]]:
        assert policy.allows(host), host
    assert not policy.allows("evil.example")  # a rebinding attacker's name is still refused


def test_configured_names_suffixes_and_star() -> None:
    policy = HostPolicy.for_server("127.0.0.1", ["inloop.example.com:443", ".corp.example"])
    assert policy.allows("inloop.example.com")
    assert policy.allows("a.b.corp.example") and policy.allows("corp.example")
    assert not policy.allows("xcorp.example")
    assert HostPolicy.for_server("127.0.0.1", ["*"]).allows("anything.example")
