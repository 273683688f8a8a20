"""Resuming paused flows from the browser: the seed's UserInput and ShirtOrder flows."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.browser_helpers import (
    finish,
    stop,
    unlabelled_fields,
    wait_for_log,
    wait_for_run,
    wait_for_state,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

FLOWS_DIR = Path(__file__).resolve().parents[1] / "flows"
USER_INPUT_FLOW = FLOWS_DIR / "greet_user.py"

SHIRT_ORDER_FLOW = FLOWS_DIR / "shirt_order.py"


def field_group(page: Page, field_id: str):
    """The rjsf form-group wrapping the input with this id (where its errors are shown)."""
    return page.locator(f".form-group:has(> #{field_id}), .form-group:has(> * #{field_id})").last


def test_resume_user_input_from_the_browser(
    page: Page, page_log, ui, api, server, run_flow_script, flow_name, shoot
) -> None:
    process = run_flow_script(USER_INPUT_FLOW, env={"FLOW_NAME": flow_name})
    try:
        run = wait_for_run(api, flow_name)
        response = page.goto(f"{ui}/runs/{run['id']}/resume")
        assert response is not None and response.ok
        assert "script-src 'self'" in (response.headers.get("content-security-policy") or "")

        # The Markdown description, rendered.
        markdown = page.locator(".markdown")
        expect(markdown.locator("strong").first).to_have_text("Welcome to the User Greeting Flow!")
        expect(markdown.locator("li")).to_have_count(2)
        expect(markdown.locator("li strong").first).to_have_text("Name")

        # Every field has a label; the default from with_initial_data is filled in.
        name = page.get_by_label("Name")
        age = page.get_by_label("Age")
        expect(name).to_have_value("anonymous")
        expect(age).to_have_value("")
        assert unlabelled_fields(page) == []
        shoot(page, "form")

        # An empty name is refused in the browser: an inline error and no request.
        name.fill("")
        age.fill("36")
        page.get_by_role("button", name="Resume").click()
        expect(field_group(page, "root_name").locator(".error-detail")).to_contain_text("required")
        assert page_log.posts("/resume") == []
        expect(name).to_be_focused()
        shoot(page, "invalid")

        # A valid answer, submitted from the keyboard, resumes the flow.
        name.fill("Ada")
        expect(page.locator(".error-detail")).to_have_count(0)
        name.press("Enter")
        expect(page.get_by_test_id("resumed")).to_be_visible()
        assert len(page_log.posts("/resume")) == 1

        # The flow logs the greeting; the page shows it without a reload.
        wait_for_log(api, run["id"], "Hello, Ada!")
        expect(page.get_by_test_id("logs")).to_contain_text("Hello, Ada!")
        assert finish(process) == 0
        expect(page.locator(".title-row .state")).to_have_text("Completed")
        shoot(page, "resumed")

        # The run page: state history says who resumed it, the answer is among the inputs.
        page.get_by_role("link", name="Open the run").click()
        expect(page).to_have_url(re.compile(rf"/runs/{run['id']}$"))
        expect(page.get_by_test_id("state-history")).to_contain_text("resumed by")
        expect(page.get_by_test_id("inputs-table")).to_contain_text('"Ada"')
        expect(page.get_by_test_id("logs")).to_contain_text("Hello, Ada!")
        shoot(page, "run")

        assert page_log.page_errors == []
        assert page_log.csp_violations() == []
    finally:
        stop(process)


def test_server_validation_errors_show_on_their_fields(
    page: Page, page_log, ui, api, run_flow_script, flow_name, shoot
) -> None:
    """The browser is given a looser schema than the server holds, so the server's 422 decides."""
    process = run_flow_script(USER_INPUT_FLOW, env={"FLOW_NAME": flow_name})
    try:
        run = wait_for_run(api, flow_name)

        def loosen(route: Route) -> None:
            pause: dict[str, Any] = route.fetch().json()
            schema = pause["schema"]
            schema["properties"]["age"]["type"] = "string"  # lets "abc" through the browser
            schema["required"] = []  # lets a missing age through the browser
            route.fulfill(json=pause)

        page.route(re.compile(r"/api/flow_runs/[^/]+/pause$"), loosen)
        page.goto(f"{ui}/runs/{run['id']}/resume")
        age = page.get_by_label("Age")
        age_errors = field_group(page, "root_age").locator(".error-detail")

        # A field error: loc ["run_input", "age"].
        age.fill("abc")
        page.get_by_role("button", name="Resume").click()
        expect(page.get_by_role("alert")).to_contain_text("rejected")
        expect(age_errors).to_contain_text("integer")
        assert len(page_log.posts("/resume")) == 1
        shoot(page, "field-error")

        # Editing the form clears the server's verdict.
        age.fill("40")
        expect(age_errors).to_have_count(0)

        # A whole-object error (loc ["run_input"], "'age' is a required property") lands on
        # the field it names.
        age.fill("")
        page.get_by_role("button", name="Resume").click()
        expect(age_errors).to_contain_text("required")
        assert len(page_log.posts("/resume")) == 2
        assert api.get(f"/flow_runs/{run['id']}").json()["state"]["type"] == "PAUSED"
        shoot(page, "required-error")

        # With the real schema the same page resumes the run.
        page.unroute(re.compile(r"/api/flow_runs/[^/]+/pause$"))
        page.reload()
        page.get_by_label("Name").fill("Grace")
        page.get_by_label("Age").fill("40")
        page.get_by_role("button", name="Resume").click()
        expect(page.get_by_test_id("resumed")).to_be_visible()
        wait_for_log(api, run["id"], "Hello, Grace!")
        assert finish(process) == 0
    finally:
        stop(process)


def test_shirt_order_pauses_again_after_a_validator_error(
    page: Page, ui, api, run_flow_script, flow_name, shoot
) -> None:
    process = run_flow_script(SHIRT_ORDER_FLOW, env={"FLOW_NAME": flow_name})
    try:
        run = wait_for_run(api, flow_name)
        first_key = run["pause"]["key"]
        page.goto(f"{ui}/runs/{run['id']}/resume")
        form = page.get_by_test_id("resume-form")
        expect(form).to_have_attribute("data-pause-key", first_key)

        # Enums are selects; every field is labelled.
        size = page.get_by_label("Size")
        color = page.get_by_label("Color")
        assert size.evaluate("el => el.tagName") == "SELECT"
        assert color.evaluate("el => el.tagName") == "SELECT"
        assert unlabelled_fields(page) == []

        # Nothing chosen: blocked in the browser.
        page.get_by_role("button", name="Resume").click()
        expect(page.locator(".error-detail")).to_have_count(2)

        # Small and green passes the schema but fails the flow's model_validator.
        size.select_option("small")
        color.select_option("green")
        page.get_by_role("button", name="Resume").click()

        # The flow pauses again under the next key, and the page offers the new pause.
        expect(page.get_by_test_id("asked-again")).to_be_visible(timeout=30_000)
        second_key = form.get_attribute("data-pause-key")
        assert second_key and second_key != first_key
        expect(page.get_by_test_id("logs")).to_contain_text("Invalid size and color combination")
        again = wait_for_run(api, flow_name)
        assert again["id"] == run["id"] and again["pause"]["key"] == second_key
        shoot(page, "paused-again")

        page.get_by_label("Size").select_option("medium")
        page.get_by_label("Color").select_option("green")
        page.get_by_role("button", name="Resume").click()
        expect(page.get_by_test_id("resumed")).to_be_visible()
        wait_for_log(api, run["id"], "Shirt order: medium, green")
        assert finish(process) == 0
        wait_for_state(api, run["id"], ("COMPLETED",))
        shoot(page, "completed")
    finally:
        stop(process)


def test_pause_without_input_resumes_with_a_click(
    page: Page, ui, api, run_flow_script, flow_name
) -> None:
    source = f"""
from inloop import flow, pause_flow_run
from inloop.logging import get_run_logger

@flow(name={flow_name!r})
def approve():
    pause_flow_run(timeout=300)
    get_run_logger().info("approved")

if __name__ == "__main__":
    approve()
"""
    process = run_flow_script(source)
    try:
        run = wait_for_run(api, flow_name)
        page.goto(f"{ui}/runs/{run['id']}")
        expect(page.get_by_test_id("pause-panel")).to_be_visible()
        page.get_by_test_id("pause-panel").get_by_role("link", name="Resume").click()
        expect(page).to_have_url(re.compile(r"/resume$"))
        page.get_by_role("button", name="Resume").click()
        expect(page.get_by_test_id("resumed")).to_be_visible()
        wait_for_log(api, run["id"], "approved")
        assert finish(process) == 0
        inputs = api.get(f"/flow_runs/{run['id']}/inputs").json()
        assert json.dumps(inputs)  # readable after a null resume
    finally:
        stop(process)
