"""/api/automations against a real users-mode server: apply (create, replace, unchanged, all or
nothing), enable and disable, delete with its deliveries, errors naming the field or the name,
the delivery log, the events each change records, and who may do what.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.automation_rows import count_rows, insert_delivery


class People:
    def __init__(self, info: Any, tokens: dict[str, str]) -> None:
        self.info = info
        self.tokens = tokens

    def http(self, who: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.info.api_url,
            headers={"authorization": f"Bearer {self.tokens[who]}"},
            timeout=30,
        )


@pytest.fixture(scope="module")
def people(module_server_factory: Callable[..., Any]) -> Iterator[People]:
    """A users-mode server with root (admin), olive (operator) and val (viewer)."""
    info = module_server_factory()
    with httpx.Client(base_url=info.api_url, timeout=30) as open_http:
        first = open_http.post("/users", json={"name": "root", "role": "admin"})
        assert first.status_code == 201, first.text
    tokens = {"root": first.json()["token"]}
    with httpx.Client(
        base_url=info.api_url, headers={"authorization": f"Bearer {tokens['root']}"}, timeout=30
    ) as root:
        for name, role in (("olive", "operator"), ("val", "viewer")):
            assert root.post("/users", json={"name": name, "role": role}).status_code == 201
            tokens[name] = root.post("/tokens", json={"user": name}).json()["token"]
    yield People(info, tokens)


def spec(name: str, **changes: Any) -> dict[str, Any]:
    found: dict[str, Any] = {
        "name": name,
        "trigger": {"kinds": ["flow-run.paused"]},
        "actions": [{"type": "notify", "urls": ["json://localhost:9/hook"]}],
    }
    found.update(changes)
    return found


def events_of(http: httpx.Client, name: str) -> list[tuple[str, str]]:
    found = http.get("/events", params={"kind": "automation."}).json()
    return [(e["kind"], e["actor"]) for e in found if e["details"]["automation"] == name]


def test_apply_creates_then_leaves_alone_then_replaces_in_place(people: People) -> None:
    with people.http("root") as http:
        first = http.put("/automations", json={"automations": [spec("tell-me")]})
        assert first.status_code == 200, first.text
        [created] = first.json()
        assert created["outcome"] == "created"
        automation = created["automation"]
        assert automation["enabled"] is True
        assert automation["spec"]["trigger"]["kinds"] == ["flow-run.paused"]

        again = http.put("/automations", json={"automations": [spec("tell-me")]}).json()
        assert [r["outcome"] for r in again] == ["unchanged"]
        assert again[0]["automation"]["updated"] == automation["updated"]

        changed = spec("tell-me", trigger={"kinds": ["flow-run.paused"], "after": 60})
        replaced = http.put("/automations", json={"automations": [changed]}).json()[0]
        assert replaced["outcome"] == "updated"
        # Replaced in place: the id and creation time stay, so its deliveries stay attached.
        assert replaced["automation"]["id"] == automation["id"]
        assert replaced["automation"]["created"] == automation["created"]
        assert replaced["automation"]["spec"]["trigger"]["after"] == 60

        read = http.get("/automations/tell-me").json()
        assert read == replaced["automation"]
        assert "tell-me" in [a["name"] for a in http.get("/automations").json()]
        assert events_of(http, "tell-me") == [
            ("automation.created", "root"), ("automation.updated", "root")
        ]


def test_a_file_with_one_bad_spec_changes_nothing(people: People) -> None:
    with people.http("root") as http:
        assert http.put("/automations", json={"automations": [spec("kept")]}).status_code == 200
        bad = {"automations": [
            spec("kept", enabled=False),
            spec("never-made"),
            spec("broken", trigger={"kinds": ["flow-run.paused"], "after": -5}),
        ]}
        refused = http.put("/automations", json=bad)
        assert refused.status_code == 422, refused.text
        [error] = refused.json()["detail"]
        assert error["loc"] == ["body", "automations", 2, "trigger", "after"]
        names = [a["name"] for a in http.get("/automations").json()]
        assert "never-made" not in names
        assert http.get("/automations/kept").json()["enabled"] is True

        twice = http.put("/automations", json={"automations": [spec("a"), spec("a")]})
        assert twice.status_code == 422
        assert "'a' appears twice" in twice.text


def test_enable_disable_and_delete_with_its_deliveries(people: People) -> None:
    with people.http("root") as http:
        made = http.put("/automations", json={"automations": [spec("switchy")]}).json()[0]
        automation_id = made["automation"]["id"]

        off = http.patch("/automations/switchy", json={"enabled": False})
        assert off.status_code == 200, off.text
        assert off.json()["enabled"] is False
        assert off.json()["spec"]["enabled"] is False
        # Disabling twice is not a change: no second event.
        assert http.patch("/automations/switchy", json={"enabled": False}).status_code == 200
        assert http.patch("/automations/switchy", json={"enabled": True}).json()["enabled"]

        delivered = insert_delivery(people.info, automation_id, errors=("timeout", None))
        assert count_rows(people.info, automation_id, [delivered]) == (1, 2)
        gone = http.delete("/automations/switchy")
        assert gone.status_code == 200, gone.text
        assert gone.json()["name"] == "switchy"
        assert http.get("/automations/switchy").status_code == 404
        assert count_rows(people.info, automation_id, [delivered]) == (0, 0)
        assert events_of(http, "switchy") == [
            ("automation.created", "root"),
            ("automation.disabled", "root"),
            ("automation.enabled", "root"),
            ("automation.deleted", "root"),
        ]


def test_unknown_names_are_404_naming_them(people: People) -> None:
    with people.http("root") as http:
        for method, path, body in (
            ("GET", "/automations/nope-x", None),
            ("PATCH", "/automations/nope-x", {"enabled": False}),
            ("DELETE", "/automations/nope-x", None),
            ("GET", "/automations/nope-x/deliveries", None),
        ):
            answer = http.request(method, path, json=body)
            assert answer.status_code == 404, (method, path)
            assert "no automation named 'nope-x'" in answer.json()["detail"]


def test_bad_bodies_are_422_naming_the_field(people: People) -> None:
    with people.http("root") as http:
        http.put("/automations", json={"automations": [spec("strict")]})
        for body, loc in (
            ({"enabled": None}, ["body", "enabled"]),
            ({}, ["body", "enabled"]),
            ({"enabled": True, "name": "x"}, ["body", "name"]),
        ):
            answer = http.patch("/automations/strict", json=body)
            assert answer.status_code == 422, body
            assert [e["loc"] for e in answer.json()["detail"]] == [loc]
        no_actions = {"automations": [spec("empty", actions=[])]}
        answer = http.put("/automations", json=no_actions)
        assert answer.json()["detail"][0]["loc"] == ["body", "automations", 0, "actions"]
        unknown_kind = {"automations": [spec("k", trigger={"kinds": ["flow-run.lost"]})]}
        answer = http.put("/automations", json=unknown_kind)
        assert answer.json()["detail"][0]["loc"] == [
            "body", "automations", 0, "trigger", "kinds", 0
        ]
        paged = http.get("/automations/strict/deliveries", params={"before": "not-a-delivery"})
        assert paged.status_code == 422
        assert paged.json()["detail"][0]["loc"] == ["query", "before"]
        assert http.get(
            "/automations/strict/deliveries", params={"status": "lost"}
        ).status_code == 422


def test_delivery_log_is_newest_first_paged_with_attempts(people: People) -> None:
    with people.http("root") as http:
        made = http.put("/automations", json={"automations": [spec("logged")]}).json()[0]
        automation_id = made["automation"]["id"]
        run = http.post("/flow_runs", json={"flow_name": "log-flow"}).json()
        oldest = insert_delivery(people.info, automation_id, flow_run_id=run["id"],
                                 age=timedelta(minutes=3))
        failed = insert_delivery(
            people.info, automation_id, flow_run_id=run["id"], stage=1, status="failed",
            errors=("connection refused", "HTTP 502"), age=timedelta(minutes=2),
        )
        newest = insert_delivery(people.info, automation_id, status="pending", errors=(),
                                 age=timedelta(minutes=1))

        log = http.get("/automations/logged/deliveries").json()
        assert [d["id"] for d in log] == [newest, failed, oldest]
        shown = log[1]
        assert shown["status"] == "failed"
        assert shown["stage"] == 1
        assert shown["action"] == "notify"
        assert shown["flow_run_name"] == run["name"]
        assert shown["last_error"] == "HTTP 502"
        assert shown["attempt_count"] == 2
        assert [a["error"] for a in shown["attempts"]] == ["HTTP 502", "connection refused"]
        assert log[0]["attempts"] == []

        first_page = http.get("/automations/logged/deliveries", params={"limit": 2}).json()
        assert [d["id"] for d in first_page] == [newest, failed]
        rest = http.get(
            "/automations/logged/deliveries", params={"limit": 2, "before": failed}
        ).json()
        assert [d["id"] for d in rest] == [oldest]
        only_failed = http.get(
            "/automations/logged/deliveries", params={"status": "failed"}
        ).json()
        assert [d["id"] for d in only_failed] == [failed]


def test_viewers_are_refused_and_operators_only_read(people: People) -> None:
    with people.http("root") as http:
        http.put("/automations", json={"automations": [spec("guarded")]})
    body = {"automations": [spec("guarded", enabled=False)]}
    json: dict[str, Any] | None
    with people.http("val") as viewer:
        for method, path, json in (
            ("GET", "/automations", None),
            ("GET", "/automations/guarded", None),
            ("GET", "/automations/guarded/deliveries", None),
            ("PUT", "/automations", body),
        ):
            answer = viewer.request(method, path, json=json)
            assert answer.status_code == 403, (method, path)
            assert "denied to 'val' (role 'viewer')" in answer.json()["detail"]
    with people.http("olive") as operator:
        assert operator.get("/automations/guarded").status_code == 200
        assert operator.get("/automations/guarded/deliveries").status_code == 200
        for method, path, json in (
            ("PUT", "/automations", body),
            ("PATCH", "/automations/guarded", {"enabled": False}),
            ("DELETE", "/automations/guarded", None),
        ):
            answer = operator.request(method, path, json=json)
            assert answer.status_code == 403, (method, path)
            assert "'automations:manage'" in answer.json()["detail"]
    with people.http("root") as http:
        assert http.get("/automations/guarded").json()["enabled"] is True


def test_operators_read_specs_with_credentials_redacted(people: People) -> None:
    secret_spec = spec(
        "credentials",
        actions=[
            {"type": "notify", "urls": [
                "mailto://mailer:hunter2@smtp.example.com?to=alice@example.com",
                {"url": "slack://TokenA/TokenB/TokenC", "recipient": "alice"},
            ]},
            {"type": "webhook", "url": "https://hooks.example.com/services/T0/B0/xyz?k=1",
             "secret": "whsec_" + "A" * 32},
        ],
        escalate=[{"type": "webhook", "url": "http://127.0.0.1:8123/"}],
        trigger={"kinds": ["flow-run.paused"], "after": 60},
    )
    with people.http("root") as admin:
        applied = admin.put("/automations", json={"automations": [secret_spec]})
        assert applied.status_code == 200, applied.text
        whole = admin.get("/automations/credentials").json()
    assert whole["redacted"] is False
    assert whole["spec"]["actions"][1]["secret"] == "whsec_" + "A" * 32
    with people.http("olive") as operator:
        shown = operator.get("/automations/credentials").json()
        listed = [a for a in operator.get("/automations").json() if a["name"] == "credentials"]
    assert listed == [shown]
    assert shown["redacted"] is True
    notify, webhook = shown["spec"]["actions"]
    assert notify["urls"] == [
        "mailto://[redacted]", {"url": "slack://[redacted]", "recipient": "alice"}]
    assert webhook == {"type": "webhook", "url": "https://hooks.example.com/[redacted]",
                       "secret": "[redacted]"}
    # A bare host hides nothing; the rest of the spec is untouched.
    assert shown["spec"]["escalate"] == [
        {"type": "webhook", "url": "http://127.0.0.1:8123/", "secret": None}]
    assert shown["spec"]["trigger"] == whole["spec"]["trigger"]
    for secret in ("hunter2", "TokenB", "xyz", "whsec_"):
        assert secret not in str(shown)
