"""The seed's "use an automation to alert the user", end to end in a real browser.

A flow pauses; an automation applied through the API emails the approver (a real SMTP server,
aiosmtpd) with a resume link signed for them; Chromium, holding no credentials at all, opens the
link from the mail, answers, and the flow goes on. Opened again, the link says it was used.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.automation_helpers import SmtpReceiver
from tests.browser.browser_helpers import finish, wait_for_log, wait_for_run

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

KEY = "automation-email-key"

FLOWS_DIR = Path(__file__).resolve().parents[1] / "flows"
APPROVAL_FLOW = FLOWS_DIR / "approve_refund_7.py"


def test_an_emailed_resume_link_answers_the_pause_once(
    page: Page, page_log, server_factory, run_flow_script, flow_name, shoot, wait_for
) -> None:
    # The SMTP receiver listens on loopback, which automations reach only when allowed.
    keyed = server_factory(activate=True, INLOOP_API_KEY=KEY, INLOOP_AUTOMATION_ALLOW="127.0.0.1")
    headers = {"authorization": f"Bearer {KEY}"}
    with SmtpReceiver() as smtp, httpx.Client(
        base_url=keyed.api_url, headers=headers, timeout=30
    ) as api:
        applied = api.put("/automations", json={"automations": [{
            "name": "email-the-approver",
            "trigger": {"kinds": ["flow-run.paused"], "flow": flow_name},
            "actions": [{
                "type": "notify",
                "urls": [{"url": smtp.url("ada@example.com"), "recipient": "ada@example.com"}],
                "title": "{{ run.name }} waits for you",
                "body": "{{ description }}\n\nAnswer here: {{ resume_url }}",
            }],
        }]})
        assert applied.status_code == 200, applied.text
        process = run_flow_script(APPROVAL_FLOW, env={"FLOW_NAME": flow_name})
        run = wait_for_run(api, flow_name)
        subject, body = wait_for(lambda: smtp.texts()[0] if smtp.texts() else None)
        assert subject == f"{run['name']} waits for you"
        found = re.search(r"(http://\S+/r/\S+)", body)
        assert found, body
        link = found.group(1)

        page.goto(link)
        form = page.get_by_test_id("resume-form")
        expect(form).to_be_visible()
        expect(page.get_by_text("for ada@example.com")).to_be_visible()
        expect(form.locator(".markdown strong")).to_have_text("refund #7")
        page.get_by_label("approved").check()
        page.get_by_role("button", name="Submit").click()
        expect(page.get_by_test_id("link-done")).to_be_visible()
        shoot(page, "answered-from-email")
        wait_for_log(api, run["id"], "approved=True")
        assert finish(process) == 0
        resumed = api.get(
            "/events", params={"kind": "flow-run.resumed", "flow_run_id": run["id"]}
        ).json()
        assert [e["actor"] for e in resumed] == ["link:ada@example.com"]

        page.goto(link)
        closed = page.get_by_test_id("link-closed")
        expect(closed).to_have_attribute("data-status", "used")
        shoot(page, "email-link-used")

        # The delivery log the Automations page shows records the one delivered email.
        rows = api.get("/automations/email-the-approver/deliveries").json()
        assert [row["status"] for row in rows] == ["delivered"]
    assert page_log.page_errors == []
