"""What operators see of an automation's URLs: the service (and a web host), never credentials."""

from __future__ import annotations

from typing import Any

import pytest

from inloop.server.automations.redaction import redact_spec, redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("mailto://user:pass@smtp.example.com?to=a@b.c", "mailto://[redacted]"),
        ("slack://TokenA/TokenB/TokenC", "slack://[redacted]"),
        ("json://localhost:9/hook", "json://[redacted]"),
        ("https://hooks.slack.com/services/T/B/X", "https://hooks.slack.com/[redacted]"),
        ("https://user:pw@example.com/", "https://example.com/[redacted]"),
        ("http://example.com:8080/?token=1", "http://example.com:8080/[redacted]"),
        ("http://[::1]:9000/", "http://[::1]:9000/"),
        ("HTTPS://Example.com", "https://example.com/"),
        ("http://example.com:99999/x", "[redacted]"),
        ("no scheme at all", "[redacted]"),
    ],
)
def test_urls_keep_only_what_names_the_service(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_a_spec_keeps_its_shape_and_loses_its_secrets() -> None:
    spec: dict[str, Any] = {
        "name": "n",
        "trigger": {"kinds": ["flow-run.paused"]},
        "actions": [
            {"type": "webhook", "url": "https://h.example/x", "secret": "whsec_abc"},
            {"type": "run-deployment", "deployment": "f/d", "parameters": {"x": 1}},
        ],
        "escalate": [{"type": "notify", "urls": ["ntfy://topic"], "body": "b", "title": "t"}],
    }
    shown = redact_spec(spec)
    assert shown["actions"][0] == {
        "type": "webhook", "url": "https://h.example/[redacted]", "secret": "[redacted]"}
    assert shown["actions"][1] == spec["actions"][1]
    assert shown["escalate"][0]["urls"] == ["ntfy://[redacted]"]
    assert spec["actions"][0]["secret"] == "whsec_abc"  # the stored spec is not touched
