"""A signed resume link in a real browser: open it, answer once, then see why it is spent.

The server has an API key and the browser holds none: the link alone must be enough, and the
page must ask for nothing else.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.browser_helpers import finish, wait_for_log, wait_for_run

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

KEY = "link-test-key"

FLOWS_DIR = Path(__file__).resolve().parents[1] / "flows"
APPROVAL_FLOW = FLOWS_DIR / "approve_refund_with_markup.py"


def test_open_a_link_answer_once_and_see_it_used(
    page: Page, page_log, server_factory, run_flow_script, flow_name, shoot
) -> None:
    keyed = server_factory(activate=True, INLOOP_API_KEY=KEY)
    process = run_flow_script(APPROVAL_FLOW, env={"FLOW_NAME": flow_name})
    headers = {"authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=keyed.api_url, headers=headers, timeout=30) as api:
        run = wait_for_run(api, flow_name)
        created = api.post(
            f"/flow_runs/{run['id']}/links", json={"recipient": "alice@example.com"}
        )
        assert created.status_code == 201, created.text
        url = created.json()["url"]
        assert url.startswith(f"{keyed.ui_url}/r/")

        # Opening the link shows the question, sanitized like the resume page, and its form.
        response = page.goto(url)
        assert response is not None and response.ok
        form = page.get_by_test_id("resume-form")
        expect(form).to_be_visible()
        expect(page.locator("h1")).to_have_text(f"Answer {run['name']}")
        expect(page.get_by_text("for alice@example.com")).to_be_visible()
        expect(form.locator(".markdown strong")).to_have_text("Refund #42")
        expect(form.locator(".markdown script")).to_have_count(0)
        assert page.evaluate("window.__injected === undefined")
        shoot(page, "form")
        assert api.get(f"/flow_runs/{run['id']}").json()["state"]["type"] == "PAUSED"

        page.get_by_label("approved").check()
        page.get_by_label("note").fill("ship it")
        page.get_by_role("button", name="Submit").click()
        expect(page.get_by_test_id("link-done")).to_be_visible()
        shoot(page, "done")
        wait_for_log(api, run["id"], "approved=True note=ship it")
        assert finish(process) == 0
        history = api.get(f"/flow_runs/{run['id']}/states").json()
        assert any(
            s["details"].get("resumed_by") == "link:alice@example.com" for s in history
        )

        # Opened again: the link is spent, and the page says so, and when.
        used_at = api.get(f"/links/{url.rsplit('/', 1)[1]}").json()["used_at"]
        page.goto(url)
        closed = page.get_by_test_id("link-closed")
        expect(closed).to_have_attribute("data-status", "used")
        expect(closed.locator("h2")).to_have_text("This link was already used")
        expect(page.get_by_test_id("link-closed-when")).to_contain_text("Used ")
        expect(page.get_by_test_id("link-closed-when")).not_to_contain_text("—")
        assert used_at is not None
        expect(page.get_by_test_id("resume-form")).to_have_count(0)
        shoot(page, "used")

    # The page spoke only to its link: no other API call, no key prompt, no console errors.
    api_calls = [u for _, u in page_log.requests if "/api/" in u]
    assert api_calls and all("/api/links/" in u for u in api_calls), api_calls
    assert len(page_log.posts("/api/links/")) == 1
    # Chromium reports the description's inline handler as a CSP violation while the sanitizer
    # parses it (in an inert document; the resume page does the same): blocked, never run.
    others = [e for e in page_log.console_errors if e not in page_log.csp_violations()]
    assert others == [] and page_log.page_errors == []
    assert page.evaluate("window.__injected === undefined")


def test_a_garbled_link_shows_a_clean_page(page: Page, page_log, ui: str, shoot) -> None:
    page.goto(f"{ui}/r/not-a-real-link")
    expect(page.locator("h1")).to_have_text("This link is not valid")
    expect(page.get_by_test_id("link-invalid")).to_contain_text("not a valid inloop resume link")
    shoot(page, "garbled")
    assert page_log.page_errors == []
