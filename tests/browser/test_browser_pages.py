"""The inbox, the deployments page, the runs list, and Markdown that tries to run code."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.browser_helpers import (
    finish,
    stop,
    unlabelled_fields,
    wait_for_log,
    wait_for_run,
    wait_for_state,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

HOSTILE_DESCRIPTION = """Approve **this**.

<script>window.__inloop_pwned = 'script'</script>

<img src="x" onerror="window.__inloop_pwned = 'onerror'">

[click me](javascript:window.__inloop_pwned='link')

<a href="JaVaScRiPt:window.__inloop_pwned=1">raw link</a>

<p onclick="window.__inloop_pwned=2">tap</p>

[safe](https://example.org/docs)
"""


def pausing_flow(
    flow_name: str, description: str, *, timeout: int = 300, after: str = "done",
    on_timeout: str = "fail",
) -> str:
    return f"""
from inloop import flow, pause_flow_run
from inloop.input import RunInput
from inloop.logging import get_run_logger


class Approval(RunInput):
    approved: bool = False
    note: str = "ok"


@flow(name={flow_name!r})
def ask():
    answer = pause_flow_run(
        wait_for_input=Approval.with_initial_data(description={description!r}), timeout={timeout},
        on_timeout={on_timeout!r},
    )
    get_run_logger().info(f"{after}: approved={{answer.approved}}")


if __name__ == "__main__":
    ask()
"""


def assert_inert(page: Page) -> None:
    assert page.evaluate("window.__inloop_pwned") is None
    assert page.locator("[onerror], [onclick]").count() == 0
    hrefs = page.locator(".markdown a").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    )
    assert not [h for h in hrefs if h and h.strip().lower().startswith("javascript:")], hrefs
    assert page.locator(".markdown script").count() == 0


def test_hostile_markdown_stays_inert(
    browser: Browser, page: Page, page_log, ui, api, run_flow_script, flow_name, shoot
) -> None:
    process = run_flow_script(pausing_flow(flow_name, HOSTILE_DESCRIPTION, after="approved"))
    try:
        run = wait_for_run(api, flow_name)
        assert "<script>" in run["pause"]["description"]

        for path in (f"/runs/{run['id']}/resume", f"/runs/{run['id']}"):
            page.goto(ui + path)
            markdown = page.locator(".markdown").first
            expect(markdown.locator("strong")).to_have_text("this")
            expect(markdown.get_by_role("link", name="safe")).to_have_attribute(
                "href", "https://example.org/docs"
            )
            expect(markdown.get_by_text("click me")).to_be_visible()
            page.wait_for_timeout(300)  # give any handler a chance to fire
            assert_inert(page)
            markdown.get_by_text("click me").click()
            markdown.get_by_text("tap").click()
            assert page.evaluate("window.__inloop_pwned") is None
        shoot(page, "run-page")

        # Sanitizing must hold without the CSP's help too.
        context = browser.new_context(bypass_csp=True)
        try:
            bare = context.new_page()
            bare.goto(f"{ui}/runs/{run['id']}/resume")
            expect(bare.locator(".markdown strong")).to_have_text("this")
            bare.wait_for_timeout(300)
            assert_inert(bare)
        finally:
            context.close()

        page.goto(f"{ui}/runs/{run['id']}/resume")
        shoot(page, "resume-page")
        page.get_by_role("button", name="Resume").click()
        expect(page.get_by_test_id("resumed")).to_be_visible()
        wait_for_log(api, run["id"], "approved: approved=False")
        assert finish(process) == 0
        assert page_log.page_errors == []
    finally:
        stop(process)


def test_inbox_lists_waiting_runs_and_clears(
    page: Page, ui, api, run_flow_script, flow_name, shoot
) -> None:
    first_name, second_name = f"{flow_name}-a", f"{flow_name}-b"
    first_description = "Approve the *invoice*\nmore text"
    first = run_flow_script(pausing_flow(first_name, first_description, timeout=900))
    second = None
    try:
        first_run = wait_for_run(api, first_name)
        second = run_flow_script(
            pausing_flow(second_name, "Check the shipment\nand more", on_timeout="defaults")
        )
        second_run = wait_for_run(api, second_name)

        page.goto(f"{ui}/inbox")
        table = page.get_by_test_id("inbox-table")
        first_row = table.locator(f"tr[data-run-id='{first_run['id']}']")
        second_row = table.locator(f"tr[data-run-id='{second_run['id']}']")
        # The first line, as plain text: Markdown's syntax is stripped.
        expect(first_row).to_contain_text("Approve the invoice")
        expect(first_row).not_to_contain_text("*")
        expect(first_row).not_to_contain_text("more text")
        expect(first_row).to_contain_text(first_run["name"])
        # Columns: run, asks, assigned to, waiting, deadline.
        expect(first_row.locator("td").nth(4)).to_contain_text(re.compile(r"in (14m|15m)"))
        expect(first_row.locator("td").nth(4)).not_to_contain_text("then defaults")
        expect(second_row).to_contain_text("Check the shipment")
        # A pause that takes its defaults at the deadline says so, here and on its pages.
        expect(second_row.locator("td").nth(4)).to_contain_text("then defaults")
        # Oldest first.
        ids = table.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.runId)")
        assert ids.index(first_run["id"]) < ids.index(second_run["id"])
        count = api.get("/inbox/count").json()["count"]
        assert count >= 2
        expect(page.get_by_test_id("inbox-count")).to_have_text(str(count))
        shoot(page, "listing")

        # Respond to the first from the inbox; it leaves the inbox and the badge counts down.
        first_row.get_by_role("link", name="Respond").click()
        expect(page).to_have_url(re.compile(rf"/runs/{first_run['id']}/resume$"))
        page.get_by_label("Approved").check()
        page.get_by_role("button", name="Resume").click()
        expect(page.get_by_test_id("resumed")).to_be_visible()
        expect(page.get_by_test_id("inbox-count")).to_have_text(str(count - 1))
        page.get_by_role("link", name=re.compile("^Inbox")).click()
        expect(first_row).to_have_count(0)
        expect(second_row).to_have_count(1)
        page.goto(f"{ui}/runs/{second_run['id']}")
        expect(page.get_by_test_id("pause-panel")).to_contain_text("then resumed with its defaults")
        page.goto(f"{ui}/runs/{second_run['id']}/resume")
        expect(page.get_by_text(re.compile("^Pause paused-1"))).to_contain_text(
            "then resumed with its defaults")
        page.goto(f"{ui}/inbox")

        # Resumed elsewhere (through the API): the open inbox clears by itself.
        response = api.post(
            f"/flow_runs/{second_run['id']}/resume", json={"run_input": {"approved": True}}
        )
        assert response.status_code == 200, response.text
        expect(second_row).to_have_count(0, timeout=10_000)
        expect(page.get_by_test_id("inbox-count")).to_have_text(str(count - 2), timeout=10_000)
        if count == 2:
            expect(page.get_by_test_id("inbox-empty")).to_be_visible()
        shoot(page, "cleared")
        wait_for_log(api, first_run["id"], "done: approved=True")
        assert finish(first) == 0
        assert finish(second) == 0
    finally:
        stop(first)
        if second is not None:
            stop(second)


def test_run_a_deployment_from_its_page(
    page: Page, ui, api, run_flow_script, flow_name, shoot
) -> None:
    source = f"""
from inloop import flow
from inloop.logging import get_run_logger


@flow(name={flow_name!r})
def hello(who: str = "world", times: int = 1, loud: bool = False, tags: list[str] | None = None):
    logger = get_run_logger()
    for _ in range(times):
        message = f"Hello, {{who}}!"
        logger.info(message.upper() if loud else message)
    logger.info(f"tags={{tags}}")


if __name__ == "__main__":
    hello.serve(name="browser")
"""
    runner = run_flow_script(source)
    try:
        full_name = f"{flow_name}/browser"
        deployment = None
        for _ in range(300):
            deployments = api.get("/deployments").json()
            deployment = next((d for d in deployments if d["full_name"] == full_name), None)
            if deployment:
                break
            page.wait_for_timeout(200)
        assert deployment, f"the runner never registered {full_name}"

        page.goto(f"{ui}/deployments")
        card = page.locator(f"[data-deployment='{full_name}']")
        expect(card).to_contain_text(full_name)
        card.get_by_role("button", name="Run").click()
        who = card.get_by_label("Who")  # the pydantic title of `who`
        expect(who).to_have_value("world")
        who.fill("Grace")
        card.get_by_label("Times").fill("2")
        card.get_by_label("Loud").check()
        card.get_by_role("button", name=re.compile("Add")).click()
        card.get_by_role("textbox").last.fill("first")
        assert unlabelled_fields(page) == []
        shoot(page, "form")
        card.get_by_role("button", name="Run deployment").click()

        expect(page).to_have_url(re.compile(r"/runs/[0-9a-f-]{36}$"))
        run_id = page.url.rsplit("/", 1)[1]
        run = wait_for_state(api, run_id, ("COMPLETED",), timeout=90)
        assert run["parameters"]["who"] == "Grace"
        assert run["deployment_name"] == "browser"
        expect(page.locator(".title-row .state")).to_have_text("Completed", timeout=10_000)
        expect(page.get_by_test_id("logs")).to_contain_text("HELLO, GRACE!")
        expect(page.get_by_test_id("logs")).to_contain_text("tags=['first']")
        shoot(page, "run")
    finally:
        stop(runner)


def test_runs_page_filters_and_client_side_routes(
    page: Page, ui, api, run_flow_script, flow_name, shoot
) -> None:
    process = run_flow_script(pausing_flow(flow_name, "Filter me"))
    try:
        run = wait_for_run(api, flow_name)
        page.goto(f"{ui}/runs?state=PAUSED&flow={flow_name}")  # a deep link, served index.html
        rows = page.get_by_test_id("runs-table").locator("tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text(run["name"])
        expect(page.get_by_label("paused")).to_be_checked()
        shoot(page, "filtered")

        page.get_by_label("completed").check()
        page.get_by_label("paused").uncheck()
        expect(page).to_have_url(re.compile(r"state=COMPLETED"))
        expect(page.get_by_text("No flow runs match these filters")).to_be_visible()

        page.goto(f"{ui}/no/such/page")
        expect(page.get_by_role("heading", name="Not found")).to_be_visible()
        page.goto(f"{ui}/runs/00000000-0000-0000-0000-000000000000")
        expect(page.get_by_role("alert")).to_contain_text("not found")

        api.post(f"/flow_runs/{run['id']}/resume", json={"run_input": {}}).raise_for_status()
        assert finish(process) == 0
        page.goto(f"{ui}/runs?state=COMPLETED&flow={flow_name}")
        expect(page.get_by_test_id("runs-table").locator("tbody tr")).to_have_count(1)
        page.goto(f"{ui}/runs/{run['id']}/resume")
        expect(page.get_by_test_id("not-waiting")).to_contain_text("not waiting")
    finally:
        stop(process)
