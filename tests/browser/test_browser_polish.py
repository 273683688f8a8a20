"""First-hour polish: large values collapse, every state has its colour, durations, Cancel,
plain-text inbox lines, and whether a runner is serving each deployment."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.browser_helpers import finish, stop, wait_for_run, wait_for_state

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

STATE_NAMES = {
    "SCHEDULED": "Scheduled",
    "PENDING": "Pending",
    "RUNNING": "Running",
    "PAUSED": "Paused",
    "SUSPENDED": "Suspended",
    "COMPLETED": "Completed",
    "FAILED": "Failed",
    "CRASHED": "Crashed",
    "CANCELLED": "Cancelled",
}


def ok(response: httpx.Response) -> Any:
    assert response.is_success, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


def set_state(api: httpx.Client, run_id: str, state: str) -> dict[str, Any]:
    result: dict[str, Any] = ok(api.post(f"/flow_runs/{run_id}/set_state", json={"type": state}))
    return result


def run_in_state(
    api: httpx.Client, flow_name: str, state: str, deployment_id: str
) -> dict[str, Any]:
    """A run moved through the API's real transitions into `state`."""
    if state == "SCHEDULED":
        return dict(ok(api.post("/flow_runs", json={"flow_name": flow_name, "state": "SCHEDULED"})))
    if state == "SUSPENDED":  # only a deployment's run can suspend (a runner re-runs it)
        run = ok(api.post(f"/deployments/{deployment_id}/run", json={}))
    else:
        run = ok(api.post("/flow_runs", json={"flow_name": flow_name}))
    if state == "PENDING":
        return dict(run)
    run = set_state(api, run["id"], "RUNNING")
    if state in ("PAUSED", "SUSPENDED"):
        body = {"key": "ask", "timeout": 3600, "reschedule": state == "SUSPENDED"}
        return dict(ok(api.post(f"/flow_runs/{run['id']}/pause", json=body)))
    return run if state == "RUNNING" else set_state(api, run["id"], state)


def section(page: Page, title: str) -> Any:
    return page.locator("section.card").filter(has=page.get_by_role("heading", name=title))


def test_large_values_collapse_and_expand(
    page: Page, page_log, ui, api, flow_name, shoot, tmp_path: Path
) -> None:
    huge = "h" * (15 * 1024 * 1024)
    run = ok(api.post("/flow_runs", json={"flow_name": flow_name, "parameters": {"blob": huge}}))
    report = {"rows": [{"n": n, "text": f"row {n}"} for n in range(500)]}
    ok(api.post(f"/flow_runs/{run['id']}/input", json={"key": "report", "value": report}))
    now = datetime.now(UTC).isoformat()
    long_line = "L" * 10_000 + " END-OF-LINE"
    ok(
        api.post(
            "/logs",
            json=[
                {
                    "flow_run_id": run["id"],
                    "level": 20,
                    "logger": "t",
                    "message": long_line,
                    "timestamp": now,
                }
            ],
        )
    )

    page.goto(f"{ui}/runs/{run['id']}")
    parameters = section(page, "Parameters").get_by_test_id("long-value")
    expect(parameters).to_contain_text("15.0 MiB: too large to show here")
    # 15 MiB of parameters never reach the DOM: only a preview does.
    assert page.evaluate("document.body.textContent.length") < 100_000

    inputs = section(page, "Inputs received").get_by_test_id("long-value")
    expect(inputs).to_contain_text('"n": 0')
    expect(inputs).not_to_contain_text('"n": 499')
    logs = page.get_by_test_id("logs")
    expect(logs).to_contain_text("LLLL")
    expect(logs).not_to_contain_text("END-OF-LINE")
    shoot(page, "collapsed")

    inputs.get_by_role("button", name=re.compile(r"^Show all \(\d+\.\d KiB\)$")).click()
    expect(inputs).to_contain_text('"n": 499')
    inputs.get_by_role("button", name="Show less").click()
    expect(inputs).not_to_contain_text('"n": 499')
    logs.get_by_role("button", name=re.compile(r"^Show all")).click()
    expect(logs).to_contain_text("END-OF-LINE")

    with page.expect_download() as started:
        parameters.get_by_role("button", name="Download (15.0 MiB)").click()
    saved = tmp_path / "parameters.json"
    started.value.save_as(saved)
    assert json.loads(saved.read_text()) == {"blob": huge}
    assert "h" * 1000 not in (page.text_content("main") or "")[3000:]

    parameters.get_by_role("button", name="Show anyway").click()
    expect(parameters.locator("pre")).to_contain_text('"blob": "hhh', timeout=30_000)
    assert page.evaluate("document.querySelector('.long-value pre').textContent.length") > len(huge)
    assert page_log.page_errors == []
    assert page_log.csp_violations() == []


def test_every_state_has_its_colour_and_runs_show_durations(
    page: Page, page_log, ui, api, flow_name, shoot
) -> None:
    deployment = ok(
        api.post(
            "/deployments", json={"flow_name": flow_name, "name": "colours", "entrypoint": "x.py:f"}
        )
    )
    runs = {state: run_in_state(api, flow_name, state, deployment["id"]) for state in STATE_NAMES}
    assert {state: run["state"]["type"] for state, run in runs.items()} == {s: s for s in runs}

    page.goto(f"{ui}/runs?flow={flow_name}")
    table = page.get_by_test_id("runs-table")
    expect(table.locator("tbody tr")).to_have_count(len(STATE_NAMES))
    colours = {}
    for state, run in runs.items():
        badge = table.locator(f"tr[data-run-id='{run['id']}'] .state")
        expect(badge).to_have_text(STATE_NAMES[state])  # the text says it, not colour alone
        colours[state] = badge.evaluate(
            "el => [getComputedStyle(el).backgroundColor, getComputedStyle(el).color].join(' / ')"
        )
    assert len(set(colours.values())) == len(STATE_NAMES), colours
    swatches = page.locator(".state-filter .swatch").evaluate_all(
        "els => els.map(el => getComputedStyle(el).backgroundColor)"
    )
    assert len(set(swatches)) == len(STATE_NAMES), swatches
    shoot(page, "states")

    def duration(state: str) -> Any:
        return table.locator(f"tr[data-run-id='{runs[state]['id']}'] td.duration")

    expect(duration("COMPLETED")).to_have_text(re.compile(r"^\d+s$"))
    expect(duration("SCHEDULED")).to_have_text("—")
    running = duration("RUNNING")
    expect(running).to_have_text(re.compile(r"^\d+s$"))
    first = running.text_content()
    expect(running).not_to_have_text(first or "", timeout=10_000)  # a live run's clock ticks

    page.goto(f"{ui}/runs/{runs['RUNNING']['id']}")
    expect(page.get_by_test_id("run-duration")).to_contain_text(re.compile(r"\d+s \(still going\)"))
    page.goto(f"{ui}/runs/{runs['COMPLETED']['id']}")
    expect(page.get_by_test_id("run-duration")).to_have_text(re.compile(r"^\d+s$"))
    expect(page.locator(".title-row .state")).to_have_css(
        "background-color", colours["COMPLETED"].split(" / ")[0]
    )

    page.goto(f"{ui}/inbox")
    row = page.get_by_test_id("inbox-table").locator(f"tr[data-run-id='{runs['PAUSED']['id']}']")
    expect(row.get_by_test_id("waiting-for")).to_have_text(
        re.compile(r"^waiting for \d+(s|m \d+s)$")
    )
    expect(row.locator(".state")).to_have_text("Paused")
    assert page_log.page_errors == []


FLOWS_DIR = Path(__file__).resolve().parents[1] / "flows"
CANCEL_FLOW = FLOWS_DIR / "pause_until_cancelled.py"


def test_cancel_a_paused_run_from_its_page(
    page: Page, page_log, ui, api, run_flow_script, flow_name, shoot
) -> None:
    process = run_flow_script(CANCEL_FLOW, env={"FLOW_NAME": flow_name})
    try:
        run = wait_for_run(api, flow_name)
        page.goto(f"{ui}/runs/{run['id']}")
        badge = page.locator(".title-row .state")
        expect(badge).to_have_text("Paused")
        cancel = page.get_by_test_id("cancel-run")
        cancel.get_by_role("button", name="Cancel run").click()
        confirm = cancel.get_by_role("group", name="Confirm cancelling this run")
        expect(confirm).to_contain_text(run["name"])
        confirm.get_by_role("button", name="Keep it").click()  # changing one's mind costs nothing
        expect(confirm).to_have_count(0)
        assert api.get(f"/flow_runs/{run['id']}").json()["state"]["type"] == "PAUSED"

        cancel.get_by_role("button", name="Cancel run").click()
        shoot(page, "confirm")
        confirm.get_by_role("button", name="Yes, cancel run").click()
        expect(badge).to_have_text("Cancelled")
        expect(page.get_by_test_id("cancel-run")).to_have_count(0)  # a final run has no Cancel
        assert wait_for_state(api, run["id"], ("CANCELLED",))["state"]["type"] == "CANCELLED"
        history = page.get_by_test_id("state-history")
        expect(history.locator(".state").last).to_have_text("Cancelled")
        history.get_by_role("button", name="Details").last.click()
        expect(history).to_contain_text('"cancelled_by"')
        finish(process)
        shoot(page, "cancelled")
        assert page_log.page_errors == []
    finally:
        stop(process)


def test_a_refused_cancel_shows_its_error_inline(page: Page, ui, api, flow_name) -> None:
    run = ok(api.post("/flow_runs", json={"flow_name": flow_name}))
    set_state(api, run["id"], "RUNNING")

    # The page does not hear about the change below, so it still offers Cancel.
    def no_live_updates(route: Route) -> None:
        route.abort()

    page.route("**/api/flow_runs/*/wait*", no_live_updates)
    page.goto(f"{ui}/runs/{run['id']}")
    expect(page.locator(".title-row .state")).to_have_text("Running")
    set_state(api, run["id"], "COMPLETED")

    cancel = page.get_by_test_id("cancel-run")
    cancel.get_by_role("button", name="Cancel run").click()
    cancel.get_by_role("button", name="Yes, cancel run").click()
    alert = cancel.get_by_role("alert")
    expect(alert).to_contain_text(f"flow run '{run['name']}' cannot move from Completed")


def test_inbox_shows_the_first_line_as_plain_text(
    page: Page, ui, api, run_flow_script, flow_name
) -> None:
    description = (
        "## Approve **the** [invoice](https://example.org/i/7) for `ACME` <b>now</b> &amp; "
        "_today_ (my_flow_name)\n\nDetails *below*."
    )
    source = f"""
from inloop import flow, pause_flow_run
from inloop.input import RunInput


class Approval(RunInput):
    approved: bool = False


@flow(name={flow_name!r})
def ask():
    pause_flow_run(wait_for_input=Approval.with_initial_data(description={description!r}))


if __name__ == "__main__":
    ask()
"""
    process = run_flow_script(source)
    try:
        run = wait_for_run(api, flow_name)
        page.goto(f"{ui}/inbox")
        cell = page.get_by_test_id("inbox-table").locator(
            f"tr[data-run-id='{run['id']}'] .first-line"
        )
        expect(cell).to_have_text("Approve the invoice for ACME now & today (my_flow_name)")
        assert cell.locator("*").count() == 0  # text, never markup
        api.post(f"/flow_runs/{run['id']}/cancel").raise_for_status()
        finish(process)
    finally:
        stop(process)


SERVE_FLOW = FLOWS_DIR / "serve_online.py"


def test_deployments_page_shows_whether_a_runner_is_online(
    page: Page, server_factory: Callable[..., Any], run_flow_script, flow_name, shoot
) -> None:
    # Runners poll every second here, so one that stops is offline within 2 * 1 + 5 s.
    info = server_factory(activate=True, INLOOP_RUNNER_POLL_SECONDS="1")
    runner = run_flow_script(
        SERVE_FLOW, env={"FLOW_NAME": flow_name, "INLOOP_RUNNER_POLL_SECONDS": "1"}
    )
    try:
        page.goto(f"{str(info.ui_url).rstrip('/')}/deployments")
        card = page.locator(f"[data-deployment='{flow_name}/online']")
        status = card.get_by_test_id("runner-status")
        expect(status).to_have_text("runner online", timeout=60_000)
        shoot(page, "online")
        stop(runner)
        expect(status).to_have_text(re.compile(r"^no runner since "), timeout=60_000)
        shoot(page, "offline")
    finally:
        stop(runner)
