"""Who may answer a pause, in the browser of a signed-in person: an assigned pause answered, one
assigned to another group refused (before the form and, if the rule changes meanwhile, by the
server, shown inline), and self-approval refused."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

PASSWORD = "a long enough password"
SCHEMA = {
    "type": "object",
    "properties": {"note": {"type": "string", "title": "Note"}},
    "required": ["note"],
}


@dataclass
class Office:
    info: Any
    tokens: dict[str, str] = field(default_factory=dict)

    def api(self, who: str) -> httpx.Client:
        headers = {"authorization": f"Bearer {self.tokens[who]}"}
        return httpx.Client(base_url=self.info.api_url, headers=headers, timeout=30)

    def paused(self, creator: str, flow_name: str, **rules: Any) -> dict[str, Any]:
        with self.api(creator) as http:
            run = http.post("/flow_runs", json={"flow_name": flow_name, "state": "RUNNING"})
        assert run.status_code == 201, run.text
        created = run.json()
        with httpx.Client(base_url=self.info.api_url, timeout=30) as process:
            paused = process.post(
                f"/flow_runs/{created['id']}/pause",
                json={"key": "paused-1", "schema": SCHEMA, **rules},
                headers={"x-inloop-run-token": created["run_token"]},
            )
        assert paused.status_code == 200, paused.text
        return dict(paused.json())


@pytest.fixture(scope="module")
def office(module_server_factory: Callable[..., Any]) -> Office:
    info = module_server_factory()
    found = Office(info)
    first = httpx.post(f"{info.api_url}/users",
                       json={"name": "root", "role": "admin", "password": PASSWORD})
    assert first.status_code == 201, first.text
    found.tokens["root"] = first.json()["token"]
    with found.api("root") as admin:
        for name, role, groups in (("fay", "responder", ["finance"]),
                                   ("olive", "operator", ["ops"])):
            made = admin.post("/users", json={"name": name, "role": role, "groups": groups,
                                              "password": PASSWORD})
            assert made.status_code == 201, made.text
            token = admin.post("/tokens", json={"user": name})
            found.tokens[name] = token.json()["token"]
    return found


def sign_in(page: Page, office: Office, name: str, path: str) -> None:
    page.goto(f"{office.info.ui_url.rstrip('/')}{path}")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("account")).to_contain_text(name)


def test_a_member_of_the_assigned_group_answers_from_the_inbox(
    page: Page, office: Office, shoot: Any
) -> None:
    theirs = office.paused("olive", "for-finance", assignees=["group:finance"])
    others = office.paused("olive", "for-ops", assignees=["group:ops"])
    sign_in(page, office, "fay", "/inbox")
    table = page.get_by_test_id("inbox-table")
    row = table.locator(f"tr[data-run-id='{theirs['id']}']")
    expect(row.get_by_test_id("assigned-to")).to_have_text("group:finance (you)")
    # What waits for someone else is not in fay's inbox.
    expect(table.locator(f"tr[data-run-id='{others['id']}']")).to_have_count(0)
    shoot(page, "inbox")

    row.get_by_role("link", name="Respond").click()
    expect(page.get_by_test_id("pause-rules")).to_contain_text("Assigned to group:finance (you)")
    page.get_by_label("Note").fill("paid")
    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_test_id("resumed")).to_be_visible()
    with office.api("root") as admin:
        run = admin.get(f"/flow_runs/{theirs['id']}").json()
    assert run["state"]["details"]["resumed_by"] == "fay"


def test_a_pause_for_another_group_offers_no_form_and_the_server_refuses_it_inline(
    page: Page, office: Office, shoot: Any
) -> None:
    others = office.paused("olive", "ops-only", assignees=["group:ops"])
    sign_in(page, office, "fay", f"/runs/{others['id']}/resume")
    refusal = page.get_by_test_id("cannot-answer")
    expect(refusal).to_contain_text("assigned to group:ops; you are fay in groups finance")
    expect(page.get_by_role("button", name="Resume")).to_have_count(0)
    shoot(page, "refused")

    # A form already on screen when the rule stops matching: the server's 403, in the page.
    theirs = office.paused("olive", "finance-then-not", assignees=["group:finance"])
    page.goto(f"{office.info.ui_url.rstrip('/')}/runs/{theirs['id']}/resume")
    page.get_by_label("Note").fill("paid")
    with office.api("root") as admin:
        admin.patch("/users/fay", json={"groups": ["sales"]})
    try:
        page.get_by_role("button", name="Resume").click()
        expect(page.get_by_role("alert")).to_contain_text(
            "assigned to group:finance; you are fay in groups sales"
        )
    finally:
        with office.api("root") as admin:
            admin.patch("/users/fay", json={"groups": ["finance"]})
    with office.api("root") as admin:
        run = admin.get(f"/flow_runs/{theirs['id']}").json()
        refused = admin.get("/events", params={"flow_run_id": theirs["id"],
                                               "kind": "flow-run.resume-refused"}).json()
    assert run["state"]["type"] == "PAUSED"
    assert [e["actor"] for e in refused] == ["fay"]


def test_the_person_who_started_the_run_may_not_approve_it(
    page: Page, office: Office, shoot: Any
) -> None:
    mine = office.paused("olive", "four-eyes", allow_self_approval=False)
    sign_in(page, office, "olive", f"/runs/{mine['id']}/resume")
    expect(page.get_by_test_id("pause-rules")).to_contain_text(
        "not answerable by whoever started the run (olive)"
    )
    expect(page.get_by_test_id("cannot-answer")).to_contain_text(
        "self-approval not allowed: you started this run"
    )
    expect(page.get_by_role("button", name="Resume")).to_have_count(0)
    shoot(page, "self-approval")
