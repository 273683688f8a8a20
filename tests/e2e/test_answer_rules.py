"""Who may answer a pause, through a real server: assignees, self-approval, the inbox, the CLI
and a deployment run served by a runner, in users mode; and open mode as it always was.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.waiting import wait_for

PEOPLE = {
    # name: (role, groups)
    "olive": ("operator", ["ops"]),
    "fay": ("responder", ["finance"]),
    "rick": ("responder", ["ops"]),
    "val": ("viewer", ["finance"]),
    "wanda": ("worker", []),
}


class Team:
    """A users-mode server: root (admin) and PEOPLE, each with an API token."""

    def __init__(self, info: Any) -> None:
        self.info = info
        self.tokens: dict[str, str] = {}

    def api(self, who: str) -> httpx.Client:
        headers = {"authorization": f"Bearer {self.tokens[who]}"}
        return httpx.Client(base_url=self.info.api_url, headers=headers, timeout=30)

    def paused(
        self,
        creator: str,
        assignees: list[str] | None = None,
        allow_self_approval: bool | None = None,
        flow_name: str = "approvals",
    ) -> dict[str, Any]:
        """A run `creator` started, paused by its own process (its run token) with these rules."""
        with self.api(creator) as http:
            created = http.post("/flow_runs", json={"flow_name": flow_name, "state": "RUNNING"})
        assert created.status_code == 201, created.text
        run = created.json()
        body: dict[str, Any] = {"key": "paused-1", "schema": SCHEMA}
        if assignees is not None:
            body["assignees"] = assignees
        if allow_self_approval is not None:
            body["allow_self_approval"] = allow_self_approval
        with httpx.Client(base_url=self.info.api_url, timeout=30) as process:
            paused = process.post(
                f"/flow_runs/{run['id']}/pause",
                json=body,
                headers={"x-inloop-run-token": run["run_token"]},
            )
        assert paused.status_code == 200, paused.text
        return dict(paused.json())

    def resume(self, who: str, run: dict[str, Any]) -> httpx.Response:
        with self.api(who) as http:
            return http.post(
                f"/flow_runs/{run['id']}/resume", json={"run_input": {"approved": True}}
            )


SCHEMA = {
    "type": "object",
    "properties": {"approved": {"type": "boolean"}},
    "required": ["approved"],
}


@pytest.fixture(scope="module")
def team(module_server_factory: Callable[..., Any]) -> Team:
    info = module_server_factory()
    found = Team(info)
    # The first user, from the server's own machine: the answer carries an admin token.
    first = httpx.post(f"{info.api_url}/users", json={"name": "root", "role": "admin"})
    assert first.status_code == 201, first.text
    found.tokens["root"] = first.json()["token"]
    with found.api("root") as admin:
        for name, (role, groups) in PEOPLE.items():
            made = admin.post("/users", json={"name": name, "role": role, "groups": groups})
            assert made.status_code == 201, made.text
            token = admin.post("/tokens", json={"user": name, "name": "test"})
            assert token.status_code == 201, token.text
            found.tokens[name] = token.json()["token"]
    return found


def refused(response: httpx.Response, *fragments: str) -> None:
    assert response.status_code == 403, response.text
    detail = response.json()["detail"]
    for fragment in fragments:
        assert fragment in detail, detail


def events_of(team: Team, run: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    with team.api("root") as http:
        found = http.get("/events", params={"flow_run_id": run["id"], "kind": kind})
    assert found.status_code == 200, found.text
    return list(found.json())


# --- assignees -----------------------------------------------------------------------------------


def test_a_pause_assigned_to_a_group_is_answered_only_by_its_members(team: Team) -> None:
    run = team.paused("olive", assignees=["group:finance"])
    assert run["pause"]["assignees"] == ["group:finance"]
    assert run["created_by"] == "olive"
    refused(team.resume("rick", run), "assigned to group:finance; you are rick in groups ops")
    # Operators answer unassigned pauses, but an assignment binds them like anyone else.
    refused(team.resume("olive", run), "assigned to group:finance; you are olive in groups ops")
    answered = team.resume("fay", run)
    assert answered.status_code == 200, answered.text
    assert answered.json()["state"]["details"]["resumed_by"] == "fay"
    refusals = events_of(team, run, "flow-run.resume-refused")
    assert [(e["actor"], e["details"]["rule"]) for e in refusals] == [
        ("rick", "assignees"), ("olive", "assignees"),
    ]
    assert "assigned to group:finance" in refusals[0]["details"]["reason"]


def test_a_pause_assigned_to_a_user_is_answered_by_that_user(team: Team) -> None:
    run = team.paused("olive", assignees=["rick"])
    refused(team.resume("fay", run), "assigned to rick; you are fay in groups finance")
    assert team.resume("rick", run).status_code == 200


def test_admins_are_exempt_from_assignees(team: Team) -> None:
    run = team.paused("olive", assignees=["group:finance"])
    answered = team.resume("root", run)
    assert answered.status_code == 200, answered.text
    assert answered.json()["state"]["details"]["resumed_by"] == "root"


def test_responders_answer_only_what_is_assigned_to_them(team: Team) -> None:
    run = team.paused("olive")
    refused(team.resume("fay", run), "assigned to nobody", "role 'responder'")
    assert team.resume("olive", run).status_code == 200


def test_a_viewer_is_refused_before_any_rule(team: Team) -> None:
    run = team.paused("olive", assignees=["group:finance"])
    refused(team.resume("val", run), "'runs:resume'")


# --- self-approval -------------------------------------------------------------------------------


def test_self_approval_is_refused_to_everyone_admins_included(team: Team) -> None:
    run = team.paused("root", allow_self_approval=False)
    assert run["pause"]["allow_self_approval"] is False
    refused(team.resume("root", run), "self-approval not allowed: you started this run")
    [event] = events_of(team, run, "flow-run.resume-refused")
    assert event["actor"] == "root" and event["details"]["rule"] == "self-approval"
    assert team.resume("olive", run).status_code == 200


def test_self_approval_and_assignees_together(team: Team) -> None:
    run = team.paused("olive", assignees=["group:ops"], allow_self_approval=False)
    refused(team.resume("olive", run), "self-approval not allowed")
    assert team.resume("rick", run).status_code == 200


def test_by_default_the_creator_may_answer(team: Team) -> None:
    run = team.paused("olive")
    assert run["pause"]["allow_self_approval"] is True and run["pause"]["assignees"] == []
    assert team.resume("olive", run).status_code == 200


# --- the other ways in ---------------------------------------------------------------------------


def test_an_input_sent_to_the_pause_response_key_is_refused_even_to_an_assignee(
    team: Team,
) -> None:
    # Until issue 17 a plain send there was judged like a resume; now it is no way in at all,
    # for anyone: an answer goes through the answer path, where every rule applies.
    run = team.paused("olive", assignees=["group:finance"])
    for who in ("rick", "fay"):
        with team.api(who) as http:
            answer = http.post(
                f"/flow_runs/{run['id']}/input",
                json={"key": "paused-1-response", "value": {"approved": True}},
            )
            refused(answer, "answered only while it waits", f"inloop flow-run resume {run['id']}")
    with team.api("rick") as rick:
        # Any other key is a message, not an answer: no rule of the pause applies.
        other = rick.post(f"/flow_runs/{run['id']}/input", json={"key": "note-1", "value": 1})
        assert other.status_code == 201, other.text
    events = events_of(team, run, "flow-run.resume-refused")
    assert [(e["actor"], e["details"]["rule"]) for e in events] == [
        ("rick", "answer-path"), ("fay", "answer-path"),
    ]
    assert team.resume("fay", run).status_code == 200


def test_reading_the_pause_says_whether_the_caller_may_answer(team: Team) -> None:
    run = team.paused("olive", assignees=["group:finance"], allow_self_approval=False)
    with team.api("rick") as rick:
        pause = rick.get(f"/flow_runs/{run['id']}/pause").json()
    assert pause["assignees"] == ["group:finance"] and pause["allow_self_approval"] is False
    assert pause["created_by"] == "olive"
    assert pause["can_answer"] is False
    assert "assigned to group:finance" in pause["cannot_answer_because"]
    with team.api("fay") as fay:
        pause = fay.get(f"/flow_runs/{run['id']}/pause").json()
    assert pause["can_answer"] is True and pause["cannot_answer_because"] is None


@pytest.mark.parametrize(
    ("assignees", "named"),
    [(["group:"], "'group:'"), (["two words"], "'two words'"), ([""], "''"),
     (["x"] * 51, "51 entries")],
)
def test_the_server_refuses_bad_assignees_naming_them(
    team: Team, assignees: list[str], named: str
) -> None:
    with team.api("olive") as http:
        run = http.post("/flow_runs", json={"flow_name": "bad", "state": "RUNNING"}).json()
    with httpx.Client(base_url=team.info.api_url, timeout=30) as process:
        paused = process.post(
            f"/flow_runs/{run['id']}/pause",
            json={"key": "paused-1", "assignees": assignees},
            headers={"x-inloop-run-token": run["run_token"]},
        )
    assert paused.status_code == 422, paused.text
    [error] = paused.json()["detail"]
    assert error["loc"][:2] == ["body", "assignees"] and named in error["msg"], error


# --- the inbox -----------------------------------------------------------------------------------


def test_the_inbox_shows_each_person_what_waits_for_them(team: Team) -> None:
    flow = "inbox-rules"
    finance = team.paused("olive", assignees=["group:finance"], flow_name=flow)
    ricks = team.paused("olive", assignees=["rick"], flow_name=flow)
    nobodys = team.paused("olive", flow_name=flow)
    mine = team.paused("olive", allow_self_approval=False, flow_name=flow)

    def inbox(who: str, **params: Any) -> dict[str, bool]:
        with team.api(who) as http:
            found = http.get("/inbox", params={"limit": 1000, **params})
            count = http.get("/inbox/count", params=params)
        assert found.status_code == 200, found.text
        items = found.json()
        assert count.json()["count"] == len(items)
        return {
            item["flow_run"]["id"]: item["can_answer"]
            for item in items
            if item["flow_run"]["flow_name"] == flow
        }

    assert inbox("fay") == {finance["id"]: True}
    assert inbox("rick") == {ricks["id"]: True}
    assert inbox("olive") == {nobodys["id"]: True}
    assert inbox("root") == {r["id"]: True for r in (finance, ricks, nobodys, mine)}
    assert inbox("val") == {}
    assert inbox("olive", all="true") == {
        finance["id"]: False, ricks["id"]: False, nobodys["id"]: True, mine["id"]: False,
    }
    with team.api("olive") as http:
        item = next(i for i in http.get("/inbox", params={"all": "true", "limit": 1000}).json()
                    if i["flow_run"]["id"] == finance["id"])
    assert item["flow_run"]["pause"]["assignees"] == ["group:finance"]
    with team.api("fay") as http:
        refused(http.get("/inbox", params={"all": "true"}), "all=true", "role 'responder'")
        # Pages count only what fay sees: page by page gives the same list as one long page.
        whole = [i["flow_run"]["id"] for i in http.get("/inbox", params={"limit": 1000}).json()]
        paged = [
            item["flow_run"]["id"]
            for offset in range(len(whole) + 1)
            for item in http.get("/inbox", params={"limit": 1, "offset": offset}).json()
        ]
    assert paged == whole and finance["id"] in whole


# --- processes: the flow, the CLI, a runner ------------------------------------------------------


def cli(team: Team, who: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INLOOP_API_URL": team.info.api_url, "INLOOP_HOME": str(team.info.home),
           "INLOOP_API_KEY": team.tokens[who], "COLUMNS": "250"}
    return subprocess.run(
        [sys.executable, "-m", "inloop", *args], env=env, capture_output=True, text=True,
        timeout=60, stdin=subprocess.DEVNULL,
    )


FLOWS_DIR = Path(__file__).resolve().parents[1] / "flows"
ASSIGNED = FLOWS_DIR / "expense_for_finance.py"


def waiting_run(team: Team, flow_name: str) -> dict[str, Any]:
    with team.api("root") as http:
        def paused() -> dict[str, Any] | None:
            found = http.get("/flow_runs", params={"flow_name": flow_name, "state": "PAUSED"})
            return found.json()[0] if found.json() else None

        return wait_for(paused, timeout=60)


def test_a_flow_pauses_with_assignees_and_the_cli_is_refused_by_rule(
    team: Team, spawn: Any
) -> None:
    # An admin runs the script (flow processes need a worker's or an admin's token).
    env = {"INLOOP_API_URL": team.info.api_url, "INLOOP_API_KEY": team.tokens["root"]}
    proc = spawn(ASSIGNED, env=env)
    proc.wait_for_output("pausing")
    run = waiting_run(team, "expense")
    assert run["created_by"] == "root"
    assert run["pause"]["assignees"] == ["group:finance"]
    assert run["pause"]["allow_self_approval"] is False

    wrong_group = cli(team, "rick", "flow-run", "resume", run["id"], "--input", "true")
    assert wrong_group.returncode == 1, wrong_group.stdout + wrong_group.stderr
    assert "assigned to group:finance; you are rick in groups ops" in wrong_group.stderr
    # Admins are exempt from assignees, not from the self-approval rule.
    own = cli(team, "root", "flow-run", "resume", run["id"], "--input", "true")
    assert own.returncode == 1, own.stdout + own.stderr
    assert "self-approval not allowed: you started this run" in own.stderr

    inspected = cli(team, "fay", "flow-run", "inspect", run["id"])
    assert inspected.returncode == 0, inspected.stderr
    assert "Started by" in inspected.stdout and "root" in inspected.stdout
    assert "Assigned to" in inspected.stdout and "not allowed: root may not" in inspected.stdout

    inbox = cli(team, "fay", "inbox")
    assert inbox.returncode == 0, inbox.stderr
    assert run["name"] in inbox.stdout and "group:finance (you)" in inbox.stdout
    assert run["name"] not in cli(team, "olive", "inbox").stdout
    everything = cli(team, "olive", "inbox", "--all")
    assert everything.returncode == 0, everything.stderr
    line = next(ln for ln in everything.stdout.splitlines() if run["name"] in ln)
    assert "not yours to answer" in line

    answered = cli(team, "fay", "flow-run", "resume", run["id"], "--input", "true")
    assert answered.returncode == 0, answered.stdout + answered.stderr
    proc.wait_for_output("expense taxi: True")
    assert proc.wait() == 0, proc.output


def test_a_deployment_run_is_created_by_whoever_asked_for_it(team: Team, spawn: Any) -> None:
    env = {"INLOOP_API_URL": team.info.api_url, "INLOOP_API_KEY": team.tokens["wanda"]}
    runner = spawn(ASSIGNED, "serve", env=env)
    runner.wait_for_output("is being served")
    started = cli(team, "fay", "deployment", "run", "expense/rules", "--param", "label=hotel")
    # A responder may not start runs; an operator asks, the worker's runner claims and runs it.
    assert started.returncode == 1
    with team.api("root") as admin:
        admin.patch("/users/fay", json={"role": "operator"})
    try:
        started = cli(team, "fay", "deployment", "run", "expense/rules", "--param",
                      "label=hotel")
        assert started.returncode == 0, started.stdout + started.stderr
        run = waiting_run(team, "expense")
        assert run["created_by"] == "fay"
        own = cli(team, "fay", "flow-run", "resume", run["id"], "--input", "true")
        assert own.returncode == 1 and "self-approval not allowed" in own.stderr, own.stderr
    finally:
        with team.api("root") as admin:
            admin.patch("/users/fay", json={"role": "responder"})
    # Someone else may: root is an admin, so the assignment to group:finance does not bind.
    answered = cli(team, "root", "flow-run", "resume", run["id"], "--input", "true")
    assert answered.returncode == 0, answered.stdout + answered.stderr
    runner.wait_for_output("expense hotel: True")


# --- open mode -----------------------------------------------------------------------------------


def test_open_mode_records_assignees_but_anyone_may_answer(
    server_factory: Callable[..., Any],
) -> None:
    info = server_factory()
    with httpx.Client(base_url=info.api_url, timeout=30) as http:
        def paused(actor: str, **rules: Any) -> dict[str, Any]:
            run = http.post("/flow_runs", json={"flow_name": "open", "state": "RUNNING"},
                            headers={"x-inloop-actor": actor}).json()
            assert run["created_by"] == f"local:{actor}"
            found = http.post(f"/flow_runs/{run['id']}/pause", json={"key": "paused-1", **rules})
            assert found.status_code == 200, found.text
            return dict(found.json())

        def resume(actor: str, run: dict[str, Any]) -> httpx.Response:
            return http.post(f"/flow_runs/{run['id']}/resume", headers={"x-inloop-actor": actor})

        # As before: the one who started it answers a plain pause.
        plain = paused("ada")
        assert resume("ada", plain).status_code == 200
        # Assignees are kept and shown, but there are no people to match them against.
        assigned = paused("ada", assignees=["group:finance", "bob"])
        inbox = {i["flow_run"]["id"]: i for i in http.get("/inbox").json()}
        assert inbox[assigned["id"]]["can_answer"] is True
        assert inbox[assigned["id"]]["flow_run"]["pause"]["assignees"] == ["group:finance", "bob"]
        assert resume("carl", assigned).status_code == 200
        # Self-approval compares the declared local users.
        strict = paused("ada", allow_self_approval=False)
        refused(resume("ada", strict), "self-approval not allowed", "local:ada")
        assert resume("bob", strict).status_code == 200


def test_signed_links_follow_the_same_rules(team: Team) -> None:
    run = team.paused("olive", assignees=["group:finance"], allow_self_approval=False)

    def link_for(recipient: str, maker: str = "root") -> httpx.Response:
        with team.api(maker) as http:
            return http.post(f"/flow_runs/{run['id']}/links", json={"recipient": recipient})

    # A link is not made for someone the pause's rules would refuse.
    refused(link_for("rick"), "group:finance")
    refused(link_for("stranger@example.com"), "group:finance")
    refused(link_for("olive"), "self-approval")
    # Nor by someone they would refuse: the run's starter may not hand out its answer.
    refused(link_for("fay", maker="olive"), "a link made by olive", "self-approval")
    made = link_for("fay")
    assert made.status_code == 201, made.text
    token = made.json()["url"].rsplit("/", 1)[1]
    # The link is its own credential, and answers as link:fay.
    with httpx.Client(base_url=team.info.api_url, timeout=30) as anyone:
        used = anyone.post(f"/links/{token}", json={"run_input": {"approved": True}})
    assert used.status_code == 200, used.text
    assert [e["actor"] for e in events_of(team, run, "flow-run.resumed")] == ["link:fay"]


def test_a_link_made_before_the_rules_changed_is_still_checked_when_used(team: Team) -> None:
    run = team.paused("olive", assignees=["fay"])
    with team.api("root") as http:
        made = http.post(f"/flow_runs/{run['id']}/links", json={"recipient": "fay"})
    assert made.status_code == 201, made.text
    token = made.json()["url"].rsplit("/", 1)[1]
    # fay loses her account before she clicks: the link answers as a stranger, and is refused.
    with team.api("root") as admin:
        assert admin.patch("/users/fay", json={"disabled": True}).status_code == 200
    try:
        with httpx.Client(base_url=team.info.api_url, timeout=30) as anyone:
            refused(anyone.post(f"/links/{token}", json={"run_input": {"approved": True}}),
                    "fay")
        assert [e["actor"] for e in events_of(team, run, "flow-run.resume-refused")] == [
            "link:fay"
        ]
    finally:
        with team.api("root") as admin:
            admin.patch("/users/fay", json={"disabled": False})
