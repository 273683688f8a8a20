"""No way around who may answer a pause (issue 17, items 1 and 2), through a real server.

One users-mode server with a shared key as well: every kind of caller (admin, operator, the
run's creator, an assigned and an unassigned responder, a viewer, a worker, the run's own token,
another run's token, the shared key) tries every way an answer could arrive (a plain input send
to the pause's answer key, now or ahead of time, a link it makes, `/resume`, an automation).
Only those the pause's rules accept get through: 0 unauthorized answers.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.automation_helpers import with_database
from tests.waiting import wait_for

KEY = "answer-paths-shared-key"
PEOPLE = {
    # name: (role, groups)
    "root": ("admin", []),
    "olive": ("operator", ["ops"]),  # starts every run here: the creator
    "fay": ("responder", ["finance"]),  # in the assigned group
    "rick": ("responder", ["ops"]),
    "val": ("viewer", ["finance"]),
    "wanda": ("worker", []),
}
ASSIGNEES = ["group:finance"]
SCHEMA = {
    "type": "object",
    "properties": {"approved": {"type": "boolean", "default": True}},
    "required": ["approved"],
}
# Callers, as the pause's rules judge them: who may answer a pause olive started, assigned to
# group:finance with allow_self_approval=False. Admins (root, the shared key) are exempt from
# assignees and are not the creator; fay is an assignee; everyone else is refused.
CALLERS = ["root", "api-key", "olive", "fay", "rick", "val", "wanda", "own-run", "other-run"]
MAY_ANSWER = {"root", "api-key", "fay"}
MAY_MAKE_LINKS = {"root", "api-key"}  # links:create is operator/admin; olive is the creator


class Server:
    def __init__(self, info: Any) -> None:
        self.info = info
        self.tokens: dict[str, str] = {"api-key": KEY}

    def http(self, headers: dict[str, str] | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.info.api_url, headers=headers or {}, timeout=30)

    def api(self, who: str) -> httpx.Client:
        return self.http({"authorization": f"Bearer {self.tokens[who]}"})

    def new_run(self, flow_name: str = "answer-paths") -> dict[str, Any]:
        with self.api("olive") as http:
            created = http.post("/flow_runs", json={"flow_name": flow_name, "state": "RUNNING"})
        assert created.status_code == 201, created.text
        return dict(created.json())

    def pause(self, run: dict[str, Any], key: str = "paused-1") -> httpx.Response:
        """The run's own process pauses it: assigned to finance, no self-approval."""
        body = {"key": key, "schema": SCHEMA, "assignees": ASSIGNEES,
                "allow_self_approval": False}
        with self.http({"x-inloop-run-token": run["run_token"]}) as process:
            return process.post(f"/flow_runs/{run['id']}/pause", json=body)

    def paused(self, flow_name: str = "answer-paths") -> dict[str, Any]:
        run = self.new_run(flow_name)
        paused = self.pause(run)
        assert paused.status_code == 200, paused.text
        return {**paused.json(), "run_token": run["run_token"]}

    def as_caller(self, who: str, run: dict[str, Any]) -> httpx.Client:
        if who == "own-run":
            return self.http({"x-inloop-run-token": run["run_token"]})
        if who == "other-run":
            return self.http({"x-inloop-run-token": self.new_run("elsewhere")["run_token"]})
        return self.api(who)

    def state(self, run: dict[str, Any]) -> str:
        with self.api("root") as http:
            return str(http.get(f"/flow_runs/{run['id']}").json()["state"]["type"])

    def answer_of(self, run: dict[str, Any], key: str = "paused-1") -> httpx.Response:
        with self.api("root") as http:
            return http.get(f"/flow_runs/{run['id']}/input/{key}-response")

    def events(self, run: dict[str, Any], kind: str) -> list[dict[str, Any]]:
        with self.api("root") as http:
            found = http.get("/events", params={"flow_run_id": run["id"], "kind": kind})
        assert found.status_code == 200, found.text
        return list(found.json())


@pytest.fixture(scope="module")
def srv(module_server_factory: Callable[..., Any]) -> Server:
    found = Server(module_server_factory(INLOOP_API_KEY=KEY))
    with found.api("api-key") as admin:
        for name, (role, groups) in PEOPLE.items():
            made = admin.post("/users", json={"name": name, "role": role, "groups": groups})
            assert made.status_code == 201, made.text
            token = admin.post("/tokens", json={"user": name, "name": "test"})
            assert token.status_code == 201, token.text
            found.tokens[name] = token.json()["token"]
    return found


def refused(response: httpx.Response, *fragments: str) -> None:
    assert response.status_code in (403, 409), response.text
    detail = response.json()["detail"]
    for fragment in fragments:
        assert fragment in detail, detail


def still_waiting(srv: Server, run: dict[str, Any]) -> None:
    assert srv.state(run) == "PAUSED"
    assert srv.answer_of(run).status_code == 404
    assert srv.events(run, "flow-run.resumed") == []


# --- item 1: a pause is answered only through the answer path ------------------------------------


@pytest.mark.parametrize("who", CALLERS)
def test_no_one_answers_a_pause_by_sending_input_now_or_ahead_of_time(
    srv: Server, who: str
) -> None:
    run = srv.new_run()
    answer = {"approved": True}
    with srv.as_caller(who, run) as http:
        # While the run is RUNNING: the answer to a pause it has not reached yet.
        ahead = http.post(f"/flow_runs/{run['id']}/input",
                          json={"key": "paused-1-response", "value": answer})
        refused(ahead)
    # Nothing was stored, so the pause really pauses (the server refuses to pause a key that
    # already has an answer, and the SDK would have taken a stored one without pausing).
    assert srv.pause(run).status_code == 200
    with srv.as_caller(who, run) as http:
        for key in ("paused-1-response", "paused-2-response", "suspended-1-response"):
            sent = http.post(f"/flow_runs/{run['id']}/input", json={"key": key, "value": answer})
            refused(sent)
            if who != "val":  # a viewer may not send input at all: refused before any rule
                assert "inloop flow-run resume" in sent.json()["detail"], sent.text
                assert "/resume" in sent.json()["detail"] and "link" in sent.json()["detail"]
    still_waiting(srv, run)
    if who != "val":
        rules = {e["details"]["rule"] for e in srv.events(run, "flow-run.resume-refused")}
        assert rules == {"answer-path"}
    # It still needs, and takes, a proper answer.
    with srv.api("fay") as fay:
        resumed = fay.post(f"/flow_runs/{run['id']}/resume", json={"run_input": answer})
    assert resumed.status_code == 200, resumed.text
    assert srv.answer_of(run).json()["sender"] == "fay"


def test_the_question_of_a_waiting_pause_cannot_be_rewritten(srv: Server) -> None:
    run = srv.new_run()
    with srv.api("olive") as olive:
        # Before the pause, these keys are ordinary inputs (RunInput.save writes them)...
        early = olive.post(f"/flow_runs/{run['id']}/input",
                           json={"key": "paused-1-description", "value": "Approve: it is fine"})
        assert early.status_code == 201, early.text
        # ... and the pause, when it starts, replaces them with its own question.
        assert srv.pause(run).status_code == 200
        assert olive.get(f"/flow_runs/{run['id']}/pause").json()["description"] is None
        for key in ("paused-1-description", "paused-1-schema"):
            late = olive.post(f"/flow_runs/{run['id']}/input", json={"key": key, "value": "x"})
            refused(late, "the question stays as the flow asked it")
        assert olive.get(f"/flow_runs/{run['id']}/pause").json()["schema"] == SCHEMA


FLOWS_DIR = Path(__file__).resolve().parents[1] / "flows"
FLOW = FLOWS_DIR / "gate_then_finance_approval.py"


def test_a_flow_pauses_and_waits_for_a_proper_answer_whatever_was_sent_ahead(
    srv: Server, spawn: Any
) -> None:
    flow_name = "guarded"
    # root runs the script (a flow process needs a worker or an admin): root is its creator.
    env = {"INLOOP_API_URL": srv.info.api_url, "INLOOP_API_KEY": srv.tokens["root"]}
    proc = spawn(FLOW, env=env)

    def waiting_at(key: str) -> dict[str, Any] | None:
        with srv.api("root") as http:
            found = http.get("/flow_runs", params={"flow_name": flow_name, "state": "PAUSED"})
        runs = [r for r in found.json() if r["pause"] and r["pause"]["key"] == key]
        return runs[0] if runs else None

    run = wait_for(lambda: waiting_at("gate"), timeout=60)
    # At the gate, everyone tries to answer the pause that comes next, ahead of time.
    for who in ("root", "api-key", "fay", "olive", "wanda", "other-run"):
        with srv.as_caller(who, run) as http:
            sent = http.post(f"/flow_runs/{run['id']}/input",
                             json={"key": "paused-1-response", "value": True})
        refused(sent, "answered only while it waits")
    with srv.api("root") as root:
        assert root.post(f"/flow_runs/{run['id']}/resume").status_code == 200
    proc.wait_for_output("past the gate")
    # The run really pauses at paused-1: nothing stored ahead of time answered it.
    run = wait_for(lambda: waiting_at("paused-1"), timeout=60)
    assert run["created_by"] == "root"
    with srv.api("root") as root:
        refused(root.post(f"/flow_runs/{run['id']}/resume", json={"run_input": {"value": True}}),
                "self-approval not allowed")
    with srv.api("fay") as fay:
        refused(fay.post(f"/flow_runs/{run['id']}/input",
                         json={"key": "paused-1-response", "value": True}))
        answered = fay.post(f"/flow_runs/{run['id']}/resume", json={"run_input": {"value": False}})
    assert answered.status_code == 200, answered.text
    proc.wait_for_output("approved: False")
    assert proc.wait() == 0, proc.output


# --- item 2: a link carries no more standing than its maker -------------------------------------


def link(srv: Server, maker: str, run: dict[str, Any], recipient: str) -> httpx.Response:
    with srv.as_caller(maker, run) as http:
        return http.post(f"/flow_runs/{run['id']}/links", json={"recipient": recipient})


def use(srv: Server, made: httpx.Response) -> httpx.Response:
    token = made.json()["url"].rsplit("/", 1)[1]
    with srv.http() as anyone:
        return anyone.post(f"/links/{token}", json={"run_input": {"approved": True}})


def test_the_creator_cannot_make_a_link_to_approve_her_own_run(srv: Server) -> None:
    run = srv.paused()
    # For the assignee, or for a made-up address: refused for who makes it, naming the rule.
    refused(link(srv, "olive", run, "fay"), "a link made by olive", "self-approval not allowed")
    with srv.api("olive") as olive:
        unassigned = olive.post("/flow_runs", json={"flow_name": "mine", "state": "RUNNING"})
    own = unassigned.json()
    with srv.http({"x-inloop-run-token": own["run_token"]}) as process:
        process.post(f"/flow_runs/{own['id']}/pause",
                     json={"key": "paused-1", "allow_self_approval": False})
    refused(link(srv, "olive", own, "someone@example.com"), "a link made by olive",
            "self-approval")
    # An admin's link for the assignee is fine, and says who stands behind it.
    made = link(srv, "root", run, "fay")
    assert made.status_code == 201, made.text
    [event] = srv.events(run, "link.created")
    assert event["actor"] == "root"
    assert event["details"]["made_by"] == "root"
    assert event["details"]["made_by_kind"] == "person"
    still_waiting(srv, run)


def test_a_link_the_creator_made_before_this_rule_is_refused_when_used(srv: Server) -> None:
    run = srv.paused()
    made = link(srv, "root", run, "fay")
    assert made.status_code == 201, made.text

    # As an older server let her: the link's row says olive, the run's creator, made it.
    async def made_by_olive(db: Any) -> None:
        from inloop.server.database.schema import resume_links

        async with db.transaction() as tx:
            await tx.execute(sa.update(resume_links)
                             .where(resume_links.c.id == made.json()["id"])
                             .values(created_by="olive"))

    with_database(srv.info, made_by_olive)
    refused(use(srv, made), "a link made by olive", "self-approval not allowed")
    still_waiting(srv, run)
    [event] = srv.events(run, "flow-run.resume-refused")
    assert event["actor"] == "link:fay" and event["details"]["rule"] == "self-approval"


def test_a_link_loses_its_standing_with_its_maker(srv: Server) -> None:
    # An unassigned pause root started: olive, an operator, may answer it and make links.
    with srv.api("root") as root:
        run = root.post("/flow_runs", json={"flow_name": "demoted", "state": "RUNNING"}).json()
    with srv.http({"x-inloop-run-token": run["run_token"]}) as process:
        paused = process.post(f"/flow_runs/{run['id']}/pause",
                              json={"key": "paused-1", "schema": SCHEMA})
    assert paused.status_code == 200, paused.text
    made = link(srv, "olive", run, "someone@example.com")
    assert made.status_code == 201, made.text
    with srv.api("api-key") as admin:
        assert admin.patch("/users/olive", json={"role": "viewer"}).status_code == 200
    try:
        refused(use(srv, made), "a link made by olive", "role 'viewer'")
        assert srv.state(run) == "PAUSED"
    finally:
        with srv.api("api-key") as admin:
            admin.patch("/users/olive", json={"role": "operator"})
    assert use(srv, made).status_code == 200


# --- the matrix: every caller, every path, 0 unauthorized answers --------------------------------


def automation_spec(name: str, flow_name: str) -> dict[str, Any]:
    return {"name": name, "trigger": {"kinds": ["flow-run.paused"], "flow": flow_name},
            "actions": [{"type": "resume-with-defaults"}]}


def try_path(srv: Server, who: str, path: str) -> tuple[dict[str, Any], httpx.Response]:
    """One attempt by `who` to answer a fresh pause along `path`; the run and the response."""
    if path == "automation":
        flow_name = f"auto-{uuid.uuid4().hex[:8]}"
        with srv.as_caller(who, {"run_token": srv.new_run("elsewhere")["run_token"]}) as http:
            applied = http.put("/automations", json={"automations": [
                automation_spec(f"resume-{flow_name}", flow_name)]})
        return srv.paused(flow_name), applied
    run = srv.paused()
    with srv.as_caller(who, run) as http:
        if path == "input":
            return run, http.post(f"/flow_runs/{run['id']}/input",
                                  json={"key": "paused-1-response", "value": {"approved": True}})
        if path == "resume":
            return run, http.post(f"/flow_runs/{run['id']}/resume",
                                  json={"run_input": {"approved": True}})
    made = link(srv, who, run, "fay")
    if made.status_code != 201:
        return run, made
    return run, use(srv, made)


PATHS = ["input", "link", "resume", "automation"]
ALLOWED = {
    "input": set(),
    "link": MAY_MAKE_LINKS,
    "resume": MAY_ANSWER,
    "automation": {"root", "api-key"},  # automations:manage: an admin's standing order
}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("who", CALLERS)
def test_every_caller_every_path_no_unauthorized_answer(
    srv: Server, who: str, path: str
) -> None:
    run, response = try_path(srv, who, path)
    if who not in ALLOWED[path]:
        refused(response)
        still_waiting(srv, run)
        return
    assert response.is_success, response.text
    resumed = wait_for(lambda: srv.events(run, "flow-run.resumed"), timeout=30)
    # Whoever answered is someone the rules accept, never the creator.
    expected = {"input": None, "resume": who, "link": "link:fay",
                "automation": f"automation:resume-{run['flow_name']}"}[path]
    assert [e["actor"] for e in resumed] == [expected]
    assert srv.answer_of(run).json()["value"] == {"approved": True}
