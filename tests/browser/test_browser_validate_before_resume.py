"""Validate before resume in the browser: the seed's ShirtOrder flow, opted in, refuses
small+green in the form with its validator's message, and the run stays paused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.browser_helpers import finish, stop, wait_for_log, wait_for_run, wait_for_state

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

GREEN_MESSAGE = "Green is only in-stock for medium, large, and XL sizes."

FLOWS_DIR = Path(__file__).resolve().parents[1] / "flows"
SHIRT_ORDER_FLOW = FLOWS_DIR / "shirt_order.py"

SEATS_FLOW = FLOWS_DIR / "book_seats_in_pairs.py"


def test_shirt_order_small_green_is_refused_in_the_form(
    page: Page, page_log: Any, ui, api, run_flow_script, flow_name, shoot
) -> None:
    process = run_flow_script(
        SHIRT_ORDER_FLOW, env={"FLOW_NAME": flow_name, "VALIDATE_BEFORE_RESUME": "1"}
    )
    try:
        run = wait_for_run(api, flow_name)
        page.goto(f"{ui}/runs/{run['id']}/resume")
        form = page.get_by_test_id("resume-form")
        expect(form).to_have_attribute("data-pause-key", "paused-1")

        page.get_by_label("Size").select_option("small")
        page.get_by_label("Color").select_option("green")
        page.get_by_role("button", name="Resume").click()

        # The flow's own model_validator refused it before the resume committed: its message
        # is at the top of the form, and the same pause still waits.
        expect(page.get_by_test_id("form-error")).to_contain_text(GREEN_MESSAGE)
        expect(page.get_by_test_id("asked-again")).to_have_count(0)
        assert len(page_log.posts("/resume")) == 1
        current = api.get(f"/flow_runs/{run['id']}").json()
        assert current["state"]["type"] == "PAUSED"
        assert current["pause"]["key"] == "paused-1"
        shoot(page, "refused")

        page.get_by_label("Size").select_option("medium")
        page.get_by_role("button", name="Resume").click()
        expect(page.get_by_test_id("resumed")).to_be_visible()
        wait_for_log(api, run["id"], "Shirt order: medium, green")
        assert finish(process) == 0
        wait_for_state(api, run["id"], ("COMPLETED",))
        history = api.get(f"/flow_runs/{run['id']}/states").json()
        assert [s["type"] for s in history].count("PAUSED") == 1
    finally:
        stop(process)


def test_field_validator_message_shows_on_its_field(
    page: Page, ui, api, run_flow_script, flow_name, shoot
) -> None:
    process = run_flow_script(SEATS_FLOW, env={"FLOW_NAME": flow_name})
    try:
        run = wait_for_run(api, flow_name)
        page.goto(f"{ui}/runs/{run['id']}/resume")
        count = page.get_by_label("Count")
        count.fill("3")
        page.get_by_role("button", name="Resume").click()
        group = page.locator(".form-group:has(> * #root_count), .form-group:has(> #root_count)")
        expect(group.last.locator(".error-detail")).to_contain_text("seats come in pairs; 3 is odd")
        expect(page.get_by_test_id("form-error")).to_contain_text("rejected")
        shoot(page, "field-refused")
        count.fill("4")
        page.get_by_role("button", name="Resume").click()
        expect(page.get_by_test_id("resumed")).to_be_visible()
        assert finish(process) == 0
    finally:
        stop(process)
