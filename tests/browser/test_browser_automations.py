"""The Automations page: each automation's trigger and actions, the admin's enabled switch, and
one automation's delivery log (rows written straight into the server's database)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.automation_rows import insert_delivery

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


def test_automations_page_and_one_delivery_log(
    page: Page, page_log: Any, ui: str, api: Any, server: Any, flow_name: str, shoot: Any
) -> None:
    name = f"ui-{flow_name}"[:100]
    spec = {
        "name": name,
        "description": "Remind me while a run waits",
        "trigger": {
            "kinds": ["flow-run.paused"],
            "flow": flow_name,
            "after": 3600,
            "repeat": {"every": 3600, "times": 2},
        },
        "actions": [{"type": "notify", "urls": ["json://localhost:9/hook"]}],
        "escalate": [{"type": "cancel-run"}],
    }
    applied = api.put("/automations", json={"automations": [spec]})
    assert applied.status_code == 200, applied.text
    automation_id = applied.json()[0]["automation"]["id"]
    run = api.post("/flow_runs", json={"flow_name": flow_name}).json()
    insert_delivery(server, automation_id, flow_run_id=run["id"], age=timedelta(minutes=5))
    failed = insert_delivery(
        server, automation_id, flow_run_id=run["id"], stage=1, status="failed",
        errors=("connection refused", "HTTP 503 from localhost"), age=timedelta(minutes=1),
    )

    page.goto(f"{ui}/runs")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Automations").click()
    expect(page).to_have_url(f"{ui}/automations")
    row = page.get_by_test_id("automations-table").locator(f"tr[data-automation='{name}']")
    expect(row).to_contain_text(f"flow-run.paused of flow {flow_name} after 1h, every 1h, 2 times")
    expect(row).to_contain_text("notify → cancel-run")
    expect(row).to_contain_text("Remind me while a run waits")

    # The open server's local caller is an admin: the switch turns the automation off.
    switch = row.get_by_role("switch", name=f"{name} enabled")
    expect(switch).to_have_attribute("aria-checked", "true")
    switch.click()
    expect(switch).to_have_attribute("aria-checked", "false")
    assert api.get(f"/automations/{name}").json()["enabled"] is False
    shoot(page, "automations")

    row.get_by_role("link", name=name).click()
    expect(page).to_have_url(f"{ui}/automations/{name}")
    log = page.get_by_test_id("deliveries-table")
    rows = log.locator("tbody tr")
    expect(rows).to_have_count(2)
    newest = rows.first
    expect(newest).to_have_attribute("data-delivery", failed)
    expect(newest).to_contain_text("flow-run.paused")
    expect(newest).to_contain_text("reminder 1")
    expect(newest).to_contain_text("notify")
    expect(newest).to_contain_text("failed")
    expect(newest.get_by_test_id("delivery-attempts")).to_have_text("2")
    expect(newest.get_by_test_id("delivery-error")).to_have_text("HTTP 503 from localhost")
    expect(rows.nth(1)).to_contain_text("first")
    expect(rows.nth(1)).to_contain_text("delivered")
    shoot(page, "automation-deliveries")

    # Each delivery links to its run.
    newest.get_by_role("link", name=run["name"]).click()
    expect(page).to_have_url(f"{ui}/runs/{run['id']}")
    assert page_log.console_errors == [] and page_log.page_errors == []
