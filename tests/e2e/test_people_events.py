"""People leave an audit trail: sign-ins (and failed ones), sign-outs, user and token changes are
events, committed with the change, shown by GET /api/events and `inloop events`."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import httpx

from tests.e2e.processes import cli

PASSWORD = "olive's long password"


def kinds(api: httpx.Client, prefix: str) -> list[tuple[str, str | None, dict[str, Any]]]:
    answer = api.get("/events", params={"kind": prefix})
    assert answer.status_code == 200, answer.text
    return [(e["kind"], e["actor"], e["details"]) for e in answer.json()]


def test_sign_ins_sign_outs_user_and_token_changes_are_events(
    server_factory: Callable[..., Any],
) -> None:
    info = server_factory()
    first = httpx.post(
        f"{info.api_url}/users", json={"name": "root", "role": "admin"},
        headers={"x-inloop-actor": "owner"},
    )
    assert first.status_code == 201, first.text
    api = httpx.Client(
        base_url=info.api_url, headers={"authorization": f"Bearer {first.json()['token']}"},
        timeout=30,
    )
    browser = httpx.Client(base_url=info.ui_url, timeout=30, headers={"origin": info.ui_url})
    with api, browser:
        made = api.post("/users", json={"name": "olive", "role": "viewer", "password": PASSWORD})
        assert made.status_code == 201, made.text
        users = kinds(api, "user.")
        assert [(kind, actor, d["user"], d["role"]) for kind, actor, d in users] == [
            ("user.created", "local:owner", "root", "admin"),
            ("user.created", "root", "olive", "viewer"),
        ]

        refused = browser.post("/api/session", json={"name": "olive", "password": "guess-123"})
        assert refused.status_code == 401
        unknown = browser.post("/api/session", json={"name": "nobody", "password": "guess-456"})
        assert unknown.status_code == 401
        signed_in = browser.post("/api/session", json={"name": "olive", "password": PASSWORD})
        assert signed_in.status_code == 200, signed_in.text
        assert browser.delete("/api/session").status_code == 200
        sessions = kinds(api, "session.")
        assert [(kind, actor, d) for kind, actor, d in sessions] == [
            ("session.sign-in-failed", "olive", {"method": "password"}),
            ("session.sign-in-failed", "nobody", {"method": "password"}),
            ("session.signed-in", "olive", {"method": "password"}),
            ("session.signed-out", "olive", {}),
        ]
        raw = json.dumps(api.get("/events").json())
        assert "guess-123" not in raw and PASSWORD not in raw  # never a password
        assert {e["remote"] for e in api.get("/events", params={"kind": "session."}).json()} == {
            "127.0.0.1"
        }

        assert api.patch("/users/olive", json={"role": "operator"}).status_code == 200
        assert api.patch("/users/olive", json={"password": "a new long password"}).status_code \
            == 200
        assert api.patch("/users/olive", json={"disabled": True}).status_code == 200
        assert api.patch("/users/olive", json={"disabled": False}).status_code == 200
        changes = kinds(api, "user.")[2:]
        assert changes == [
            ("user.changed", "root", {"user": "olive", "role": ["viewer", "operator"]}),
            ("user.changed", "root", {"user": "olive", "password_changed": True,
                                      "sessions_ended": 0, "tokens_revoked": 0}),
            ("user.disabled", "root", {"user": "olive", "disabled": [False, True]}),
            ("user.enabled", "root", {"user": "olive", "disabled": [True, False]}),
        ]

        token = api.post("/tokens", json={"user": "olive", "name": "laptop"}).json()
        assert api.delete(f"/tokens/{token['id']}").status_code == 200
        assert api.delete(f"/tokens/{token['id']}").status_code == 200  # no second event
        tokens = kinds(api, "token.")
        assert [(kind, actor, d.get("user"), d.get("name")) for kind, actor, d in tokens] == [
            ("token.created", "local:owner", "root", "first-admin"),
            ("token.created", "root", "olive", "laptop"),
            ("token.revoked", "root", "olive", "laptop"),
        ]
        assert token["token"] not in json.dumps(api.get("/events").json())

        # The same rows on the command line, filtered by kind.
        as_root = SimpleNamespace(env={**info.env, "INLOOP_API_KEY": first.json()["token"]})
        shown = cli(as_root, "events", "--kind", "session.")
        assert shown.returncode == 0, shown.stderr
        lines = [line for line in shown.stdout.splitlines() if "session." in line]
        assert len(lines) == 4
        assert "session.sign-in-failed" in lines[1] and "nobody" in lines[1]
        assert "method password" in lines[1]
