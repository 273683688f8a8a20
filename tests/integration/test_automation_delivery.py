"""Automations deliver through a real server's dispatcher to real receivers.

An SMTP server and an HTTP receiver run in this process; automation rows are written into the
server's database; runs pause through the API (or a real flow process) and the dispatcher sends.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from inloop.automations import AutomationSpec
from tests.automation_helpers import (
    SmtpReceiver,
    WebhookReceiver,
    add_automation,
    attempts_of,
    deliveries_of,
)
from tests.servers import ServerInfo

SETTINGS = {
    # Retries come quickly here; paused runs made through the API have no process beating for
    # them, so the server must not call them crashed while a reminder test waits.
    "INLOOP_AUTOMATION_RETRY_SECONDS": "0.2",
    # The receivers listen on loopback, which the egress policy refuses unless allowed.
    "INLOOP_AUTOMATION_ALLOW": "127.0.0.1",
    "INLOOP_PAUSED_HEARTBEAT_GRACE_SECONDS": "3600",
    "INLOOP_HEARTBEAT_GRACE_SECONDS": "3600",
}
SCHEMA = {
    "type": "object",
    "properties": {"approved": {"type": "boolean", "default": True}, "note": {"type": "string"}},
    "required": ["approved", "note"],
}
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture(scope="module")
def srv(module_server_factory: Callable[..., ServerInfo]) -> ServerInfo:
    return module_server_factory(**SETTINGS)


@pytest.fixture
def srv_api(srv: ServerInfo) -> Iterator[httpx.Client]:
    """An httpx.Client on this module's own server (`srv`, with automation settings)."""
    with httpx.Client(base_url=srv.api_url, timeout=30) as http:
        yield http


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def automation(name: str, **fields: Any) -> AutomationSpec:
    return AutomationSpec.model_validate({"name": name, **fields})


def paused_run(
    srv_api: httpx.Client, flow: str, schema: dict[str, Any] | None = None, description: str = "Ok?"
) -> dict[str, Any]:
    run = srv_api.post("/flow_runs", json={"flow_name": flow, "state": "RUNNING"}).json()
    body: dict[str, Any] = {"key": "approval", "description": description, "timeout": 3600}
    if schema is not None:
        body["schema"] = schema
    response = srv_api.post(f"/flow_runs/{run['id']}/pause", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def statuses(found: list[dict[str, Any]]) -> list[tuple[int, str]]:
    return [(row["stage"], row["status"]) for row in found]


def test_a_paused_flow_emails_its_run_name_and_resume_link(
    srv: ServerInfo, srv_api: httpx.Client, run_flow_script: Callable[..., Any],
    wait_for: Callable[..., Any],
) -> None:
    flow = unique("email-me")
    with SmtpReceiver() as smtp:
        add_automation(srv, automation(
            unique("mail"),
            trigger={"kinds": ["flow-run.paused"], "flow": "email-me-*"},
            actions=[{
                "type": "notify",
                "urls": [{"url": smtp.url("alice@example.com"), "recipient": "alice"}],
                "title": "{{ run.name }} needs {{ recipient }}",
                "body": "{{ description }}\n{{ run.flow_name }}/{{ run.name }}: {{ resume_url }}",
            }],
        ))
        process = run_flow_script(
            f"""
from inloop import flow, pause_flow_run, RunInput

class Approval(RunInput):
    approved: bool

@flow(name={flow!r})
def ask():
    answer = pause_flow_run(wait_for_input=Approval.with_initial_data(
        description="Approve the **budget**", approved=True), timeout=120)
    print("ANSWER", answer.approved, flush=True)

ask()
""",
            env=srv.env,
        )
        def paused() -> Any:
            assert process.poll() is None, process.communicate()
            found = srv_api.get("/flow_runs", params={"flow_name": flow}).json()
            return next((r for r in found if r["state"]["type"] == "PAUSED"), None)

        run = wait_for(paused)
        subject, body = wait_for(lambda: smtp.texts()[0] if smtp.texts() else None)
        assert subject == f"{run['name']} needs alice"
        assert "Approve the **budget**" in body
        assert f"{flow}/{run['name']}" in body
        # The link is alice's own signed, single-use link, usable with no other credential.
        found = re.search(rf"http://127\.0\.0\.1:{srv.port}/r/(\S+)", body)
        assert found, body
        token = found.group(1)
        with httpx.Client(base_url=srv.api_url, timeout=30) as stranger:
            described = stranger.get(f"/links/{token}").json()
            assert described["status"] == "open" and described["recipient"] == "alice"
            used = stranger.post(f"/links/{token}", json={"run_input": {"approved": True}})
            assert used.status_code == 200, used.text
        out, err = process.communicate(timeout=60)
        assert "ANSWER True" in out, err
        resumed = srv_api.get("/events", params={"kind": "flow-run.resumed",
                                              "flow_run_id": run["id"]}).json()
        assert [e["actor"] for e in resumed] == ["link:alice"]


def test_a_signed_webhook_is_retried_with_the_same_id(
    srv: ServerInfo, srv_api: httpx.Client, wait_for: Callable[..., Any]
) -> None:
    flow = unique("hooked")
    with WebhookReceiver(answers=[500]) as receiver:
        automation_id = add_automation(srv, automation(
            unique("hook"),
            trigger={"kinds": ["flow-run.paused"], "flow": flow},
            actions=[{"type": "webhook", "url": receiver.url, "secret": SECRET}],
        ))
        run = paused_run(srv_api, flow)
        wait_for(lambda: len(receiver.requests) >= 2)
        found = wait_for(lambda: [d for d in deliveries_of(srv, automation_id)
                                  if d["status"] == "delivered"])
    (first_headers, first_body), (headers, body) = receiver.requests[:2]
    verified = Webhook(SECRET).verify(body, headers)
    assert verified["type"] == "flow-run.paused"
    assert verified["data"]["run"]["id"] == run["id"]
    assert verified["data"]["delivery_id"] == found[0]["id"]
    # The retry is the same message: same id, same body, a fresh valid signature.
    assert first_headers["webhook-id"] == headers["webhook-id"] == found[0]["id"]
    assert first_body == body
    Webhook(SECRET).verify(first_body, first_headers)
    attempts = attempts_of(srv, found[0]["id"])
    assert [a["ok"] for a in attempts] == [False, True]
    assert "answered 500" in attempts[0]["error"]


def test_automations_reach_only_public_or_allowed_addresses_and_never_keep_answers(
    srv: ServerInfo, srv_api: httpx.Client, wait_for: Callable[..., Any]
) -> None:
    flow = unique("egress")
    secret_page = b"<h1>internal admin</h1> SECRET-TOKEN-123"
    with WebhookReceiver(answers=[500], body=secret_page) as receiver:
        automation_id = add_automation(srv, automation(
            unique("egress"),
            trigger={"kinds": ["flow-run.paused"], "flow": flow},
            actions=[
                # Cloud metadata (link-local) and a private address: not public, not allowed.
                {"type": "webhook", "url": "http://169.254.169.254/latest/meta-data/"},
                {"type": "notify", "urls": ["json://10.1.2.3:8080/hook"]},
                # Loopback is allowed on this server (INLOOP_AUTOMATION_ALLOW=127.0.0.1).
                {"type": "webhook", "url": receiver.url},
            ],
        ))
        paused_run(srv_api, flow)
        found = wait_for(lambda: (lambda rows: rows if len(rows) == 3 and all(
            r["status"] in ("failed", "delivered") for r in rows) else None)(
            deliveries_of(srv, automation_id)))
    assert [(d["status"], d["attempts"]) for d in found] == [
        ("failed", 1), ("failed", 1), ("delivered", 2)
    ]
    for refused, address in zip(found[:2], ("169.254.169.254", "10.1.2.3"), strict=True):
        assert f"may not connect to {address}" in refused["last_error"]
        assert "INLOOP_AUTOMATION_ALLOW" in refused["last_error"]
    # A receiver's answer is a status and its standard phrase in the log, never its body.
    first_try = attempts_of(srv, found[2]["id"])[0]
    assert first_try["error"].endswith("answered 500 Internal Server Error")
    assert "SECRET" not in str(found) + str(first_try)
    # Sent to the checked address, under the URL's own host name.
    assert receiver.requests[0][0]["host"] == f"127.0.0.1:{receiver.port}"


def test_a_webhook_that_keeps_failing_fails_after_the_attempt_bound(
    server_factory: Callable[..., ServerInfo], wait_for: Callable[..., Any]
) -> None:
    server = server_factory(**SETTINGS, INLOOP_AUTOMATION_MAX_ATTEMPTS="3")
    flow = unique("failing")
    with WebhookReceiver(answers=[503] * 10) as receiver, httpx.Client(
        base_url=server.api_url, timeout=30
    ) as http:
        automation_id = add_automation(server, automation(
            unique("hook"),
            trigger={"kinds": ["flow-run.paused"], "flow": flow},
            actions=[{"type": "webhook", "url": receiver.url}],
        ))
        paused_run(http, flow)
        failed = wait_for(lambda: [d for d in deliveries_of(server, automation_id)
                                   if d["status"] == "failed"])
    assert failed[0]["attempts"] == 3
    assert "answered 503" in failed[0]["last_error"]
    assert "gave up after 3 attempts" in failed[0]["last_error"]
    assert len(attempts_of(server, failed[0]["id"])) == 3
    assert "webhook-signature" not in receiver.requests[0][0]  # no secret, no signature


def test_reminders_repeat_after_the_wait_and_stop_once_resumed(
    srv: ServerInfo, srv_api: httpx.Client, wait_for: Callable[..., Any]
) -> None:
    flow = unique("remind")
    with WebhookReceiver() as receiver:
        automation_id = add_automation(srv, automation(
            unique("remind"),
            trigger={"kinds": ["flow-run.paused"], "flow": flow, "after": 0.5,
                     "repeat": {"every": 0.5, "times": 5}},
            actions=[{"type": "webhook", "url": receiver.url}],
        ))
        run = paused_run(srv_api, flow)
        # The first notice and two reminders, each for the same event and a later stage.
        wait_for(lambda: len(receiver.requests) >= 3)
        assert srv_api.post(f"/flow_runs/{run['id']}/resume").status_code == 200
        skipped = wait_for(lambda: [d for d in deliveries_of(srv, automation_id)
                                    if d["status"] == "skipped"])
    found = deliveries_of(srv, automation_id)
    stages = [d["stage"] for d in found]
    assert stages == list(range(len(found)))  # one chain, one stage after the other
    assert all(d["status"] == "delivered" for d in found[:-1])
    assert skipped == [found[-1]] and "left the state" in skipped[0]["last_error"]
    assert len(found) <= 6  # never more than the first notice and 5 reminders
    sent_stages = [b["data"]["event"]["stage"] for b in receiver.bodies()]
    assert sent_stages == list(range(len(found) - 1))
    assert len({h["webhook-id"] for h, _ in receiver.requests}) == len(sent_stages)


def test_escalation_runs_once_after_the_reminders(
    srv: ServerInfo, srv_api: httpx.Client, wait_for: Callable[..., Any]
) -> None:
    flow = unique("escalate")
    with WebhookReceiver() as receiver, WebhookReceiver() as boss:
        automation_id = add_automation(srv, automation(
            unique("escalate"),
            trigger={"kinds": ["flow-run.paused"], "flow": flow, "after": 0.2,
                     "repeat": {"every": 0.2, "times": 2}},
            actions=[{"type": "webhook", "url": receiver.url},
                     {"type": "webhook", "url": receiver.url}],
            escalate=[{"type": "webhook", "url": boss.url}, {"type": "cancel-run"}],
        ))
        run = paused_run(srv_api, flow)
        wait_for(lambda: srv_api.get(f"/flow_runs/{run['id']}").json()["state"]["type"]
                 == "CANCELLED")
        found = wait_for(lambda: (lambda rows: rows if all(
            r["status"] != "pending" for r in rows) else None)(
            deliveries_of(srv, automation_id)))
    assert sorted(statuses(found)) == sorted(
        [(0, "delivered")] * 2 + [(1, "delivered")] * 2 + [(2, "delivered")] * 2
        + [(-1, "delivered")] * 2
    )
    assert len(receiver.requests) == 6
    assert len(boss.requests) == 1
    states = srv_api.get(f"/flow_runs/{run['id']}").json()["state"]
    assert states["message"].startswith("cancelled by automation:escalate-")


def test_resume_with_defaults_and_run_deployment(
    srv: ServerInfo, srv_api: httpx.Client, wait_for: Callable[..., Any]
) -> None:
    flow = unique("defaults")
    name = unique("resumer")
    deployment = srv_api.post(
        "/deployments", json={"flow_name": "follow-up", "name": "after", "entrypoint": "x.py:f"}
    )
    assert deployment.status_code in (200, 201), deployment.text
    add_automation(srv, automation(
        name,
        trigger={"kinds": ["flow-run.paused"], "flow": flow},
        actions=[{"type": "resume-with-defaults"},
                 {"type": "run-deployment", "deployment": "follow-up/after",
                  "parameters": {"why": "resumed"}}],
    ))
    schema = {"type": "object", "properties": {"approved": {"type": "boolean", "default": True}},
              "required": ["approved"]}
    run = paused_run(srv_api, flow, schema=schema)
    wait_for(lambda: srv_api.get(f"/flow_runs/{run['id']}").json()["state"]["type"] == "RUNNING")
    answer = srv_api.get(f"/flow_runs/{run['id']}/input/approval-response")
    assert answer.json()["value"] == {"approved": True}
    history = srv_api.get(f"/flow_runs/{run['id']}/states").json()
    assert history[-1]["details"]["resumed_by"] == f"automation:{name}"
    children = wait_for(lambda: srv_api.get(
        "/flow_runs", params={"parent_flow_run_id": run["id"]}).json())
    assert children[0]["flow_name"] == "follow-up"
    assert children[0]["parameters"] == {"why": "resumed"}
    events = srv_api.get("/events", params={"flow_run_id": children[0]["id"]}).json()
    assert events[0]["actor"] == f"automation:{name}"


def test_resume_with_defaults_fails_clearly_when_a_field_has_none(
    srv: ServerInfo, srv_api: httpx.Client, wait_for: Callable[..., Any]
) -> None:
    flow = unique("nodefault")
    automation_id = add_automation(srv, automation(
        unique("resumer"),
        trigger={"kinds": ["flow-run.paused"], "flow": flow},
        actions=[{"type": "resume-with-defaults"}],
    ))
    run = paused_run(srv_api, flow, schema=SCHEMA)
    failed = wait_for(lambda: [d for d in deliveries_of(srv, automation_id)
                               if d["status"] == "failed"])
    assert "cannot be resumed with defaults" in failed[0]["last_error"]
    assert "note" in failed[0]["last_error"]
    assert failed[0]["attempts"] == 1  # no retry can give a field a default
    assert srv_api.get(f"/flow_runs/{run['id']}").json()["state"]["type"] == "PAUSED"


def test_a_template_error_fails_the_delivery_and_the_dispatcher_goes_on(
    srv: ServerInfo, srv_api: httpx.Client, wait_for: Callable[..., Any]
) -> None:
    flow = unique("badtemplate")
    with WebhookReceiver() as receiver:
        automation_id = add_automation(srv, automation(
            unique("template"),
            trigger={"kinds": ["flow-run.paused"], "flow": flow},
            actions=[{"type": "notify", "urls": ["json://127.0.0.1:1/"],
                      "body": "{{ run.nmae }}"},
                     {"type": "webhook", "url": receiver.url}],
        ))
        paused_run(srv_api, flow)
        found = wait_for(lambda: (lambda rows: rows if all(
            r["status"] != "pending" for r in rows) else None)(
            deliveries_of(srv, automation_id)))
    assert [d["status"] for d in found] == ["failed", "delivered"]
    assert "body template cannot be rendered" in found[0]["last_error"]
    assert "nmae" in found[0]["last_error"]


def test_a_runaway_or_oversized_template_fails_its_delivery_within_its_budget(
    srv: ServerInfo, srv_api: httpx.Client, wait_for: Callable[..., Any]
) -> None:
    flow = unique("runaway")
    with WebhookReceiver() as receiver:
        automation_id = add_automation(srv, automation(
            unique("runaway"),
            trigger={"kinds": ["flow-run.paused"], "flow": flow},
            actions=[
                # Written straight into the database: `apply` would refuse both templates.
                {"type": "notify", "urls": ["json://127.0.0.1:1/"],
                 "body": "{% for i in range(3000) %}{% for j in range(3000) %}"
                         "{% endfor %}{% endfor %}done"},
                {"type": "notify", "urls": ["json://127.0.0.1:1/"],
                 "title": "{% for i in range(20000) %}{{ i }}{% endfor %}"},
                {"type": "webhook", "url": receiver.url},
            ],
        ))
        paused_run(srv_api, flow)
        found = wait_for(lambda: (lambda rows: rows if len(rows) == 3 and all(
            r["status"] in ("failed", "delivered") for r in rows) else None)(
            deliveries_of(srv, automation_id)))
    assert [(d["status"], d["attempts"]) for d in found] == [
        ("failed", 1), ("failed", 1), ("delivered", 1)
    ]
    assert "body template is over its budget: it takes more than 100,000 steps" in (
        found[0]["last_error"]
    )
    assert "title template is over its budget: its output is longer than 65,536 characters" in (
        found[1]["last_error"]
    )


def test_kinds_and_name_patterns_choose_the_events(
    srv: ServerInfo, srv_api: httpx.Client, wait_for: Callable[..., Any]
) -> None:
    flow = unique("patterned")
    with WebhookReceiver() as receiver:
        automation_id = add_automation(srv, automation(
            unique("kinds"),
            trigger={"kinds": ["flow-run.cancelled", "flow-run.input-rejected"], "flow": flow},
            actions=[{"type": "webhook", "url": receiver.url}],
        ))
        other = srv_api.post("/flow_runs", json={"flow_name": flow + "-x", "state": "RUNNING"})
        srv_api.post(f"/flow_runs/{other.json()['id']}/cancel")  # another flow: not matched
        run = paused_run(srv_api, flow, schema=SCHEMA)  # paused: not a chosen kind
        rejected = srv_api.post(f"/flow_runs/{run['id']}/resume", json={"run_input": {"x": 1}})
        assert rejected.status_code == 422
        srv_api.post(f"/flow_runs/{run['id']}/cancel")
        wait_for(lambda: len(receiver.requests) >= 2)
        found = wait_for(lambda: (lambda rows: rows if len(rows) == 2 and all(
            r["status"] == "delivered" for r in rows) else None)(
            deliveries_of(srv, automation_id)))
    # Deliveries run concurrently, so the receiver may see them in either order;
    # the delivery log keeps the order the events happened in.
    assert sorted(b["type"] for b in receiver.bodies()) == [
        "flow-run.cancelled", "flow-run.input-rejected"]
    assert [d["event_kind"] for d in found] == ["flow-run.input-rejected", "flow-run.cancelled"]


def test_a_delivery_in_flight_when_the_server_is_killed_is_sent_after_restart(
    server_factory: Callable[..., ServerInfo], wait_for: Callable[..., Any]
) -> None:
    server = server_factory(
        **SETTINGS, INLOOP_AUTOMATION_LEASE_SECONDS="6", INLOOP_AUTOMATION_TIMEOUT_SECONDS="5"
    )
    flow = unique("killed")
    with WebhookReceiver() as receiver:
        receiver.block.set()  # the first request hangs, as a slow receiver would
        automation_id = add_automation(server, automation(
            unique("hook"),
            trigger={"kinds": ["flow-run.paused"], "flow": flow},
            actions=[{"type": "webhook", "url": receiver.url}],
        ))
        with httpx.Client(base_url=server.api_url, timeout=30) as http:
            paused_run(http, flow)
        wait_for(lambda: len(receiver.requests) == 1)
        assert server.process is not None
        server.process.kill()
        server.process.wait()
        receiver.release.set()
        server.start()
        delivered = wait_for(lambda: [d for d in deliveries_of(server, automation_id)
                                      if d["status"] == "delivered"])
    assert len(receiver.requests) == 2
    assert receiver.requests[0][0]["webhook-id"] == receiver.requests[1][0]["webhook-id"]
    attempts = attempts_of(server, delivered[0]["id"])
    assert [a["ok"] for a in attempts] == [False, True]
    assert "never finished" in attempts[0]["error"]


def test_a_retried_notification_carries_the_same_resume_link(
    srv: ServerInfo, srv_api: httpx.Client, wait_for: Callable[..., Any]
) -> None:
    flow = unique("retried-link")
    name = unique("relink")
    with WebhookReceiver(answers=[500]) as receiver:
        automation_id = add_automation(srv, automation(
            name,
            trigger={"kinds": ["flow-run.paused"], "flow": flow},
            actions=[{"type": "notify", "body": "answer here: {{ resume_url }}",
                      "urls": [{"url": receiver.url.replace("http://", "json://"),
                                "recipient": "alice"}]}],
        ))
        run = paused_run(srv_api, flow)
        delivered = wait_for(lambda: [d for d in deliveries_of(srv, automation_id)
                                      if d["status"] == "delivered"])
    assert len(attempts_of(srv, delivered[0]["id"])) == 2
    sent = [re.findall(r"/r/(\S+)", body["message"]) for body in receiver.bodies()]
    assert len(sent) == 2 and sent[0] == sent[1] and len(sent[0]) == 1
    # One link was made, for the delivery, and it is alice's.
    made = srv_api.get("/events", params={"kind": "link.created", "flow_run_id": run["id"]}).json()
    assert [(e["details"]["recipient"], e["details"]["link_id"]) for e in made] == [
        ("alice", delivered[0]["id"])]
    # Made by the server for the automation, not by the run's starter, and the event says so.
    assert made[0]["actor"] == f"automation:{name}"
    assert (made[0]["details"]["made_by"], made[0]["details"]["made_by_kind"]) == (
        f"automation:{name}", "automation")
    assert srv_api.get(f"/links/{sent[0][0]}").json()["status"] == "open"
