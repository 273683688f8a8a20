"""The Audit page: who did what, filtered and linked to each run; a run page shows its events."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}


def paused_run(api: Any, flow_name: str) -> dict[str, Any]:
    run = api.post("/flow_runs", json={"flow_name": flow_name, "state": "RUNNING"}).json()
    api.post(f"/flow_runs/{run['id']}/pause", json={"key": "paused-1", "schema": SCHEMA})
    return dict(run)


def test_audit_page_lists_who_did_what_and_links_each_run(
    page: Page, page_log: Any, ui: str, api: Any, flow_name: str, shoot: Any
) -> None:
    approved = paused_run(api, flow_name)
    resumed = api.post(
        f"/flow_runs/{approved['id']}/resume",
        json={"run_input": {"ok": True}},
        headers={"x-inloop-actor": "auditor-ada"},
    )
    assert resumed.status_code == 200
    refused = paused_run(api, flow_name)
    api.post(f"/flow_runs/{refused['id']}/cancel", headers={"x-inloop-actor": "auditor-zed"})

    page.goto(f"{ui}/runs")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit").click()
    expect(page).to_have_url(f"{ui}/audit")
    table = page.get_by_test_id("events-table")
    expect(table.locator("tr[data-event-kind='flow-run.resumed']").first).to_contain_text(
        "local:auditor-ada"
    )
    expect(table.locator("tr[data-event-kind='flow-run.cancelled']").first).to_contain_text(
        "local:auditor-zed"
    )
    shoot(page, "audit")

    # Filter to one actor: only what ada did, newest first.
    page.get_by_label("Actor").fill("local:auditor-ada")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(f"{ui}/audit?actor=local%3Aauditor-ada")
    rows = table.locator("tbody tr")
    expect(rows.first).to_have_attribute("data-event-kind", "flow-run.resumed")
    for actor in page.get_by_test_id("event-actor").all_inner_texts():
        assert actor == "local:auditor-ada"

    # Each run is a link to its page, which lists the run's own events: who resumed, when.
    rows.first.get_by_role("link", name=approved["name"]).click()
    expect(page).to_have_url(f"{ui}/runs/{approved['id']}")
    run_events = page.get_by_test_id("events-table")
    resumed_row = run_events.locator("tr[data-event-kind='flow-run.resumed']")
    expect(resumed_row).to_contain_text("local:auditor-ada")
    expect(resumed_row).to_contain_text("key paused-1")
    expect(run_events.locator("tr[data-event-kind='flow-run.paused']")).to_have_count(1)
    assert page_log.console_errors == [] and page_log.page_errors == []
