"""A server with users: the UI shows a sign-in page, then the runs, the user, and a way out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

PASSWORD = "a long enough password"


def test_sign_in_shows_the_runs_and_sign_out_ends_the_session(
    page: Page, server_factory: Callable[..., Any], shoot
) -> None:
    info = server_factory()
    # The first user, from this machine: the answer carries the admin's first token.
    created = httpx.post(
        f"{info.api_url}/users", json={"name": "ada", "role": "admin", "password": PASSWORD}
    )
    assert created.status_code == 201, created.text
    headers = {"authorization": f"Bearer {created.json()['token']}"}
    run = httpx.post(
        f"{info.api_url}/flow_runs", json={"flow_name": "signed-flow"}, headers=headers
    ).json()
    ui = info.ui_url.rstrip("/")

    page.goto(f"{ui}/runs")
    heading = page.get_by_role("heading", name="Sign in to inloop")
    expect(heading).to_be_visible()
    shoot(page, "sign-in")

    page.get_by_label("User name").fill("ada")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("wrong user name or password")

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(heading).to_have_count(0)
    expect(page.get_by_test_id("runs-table")).to_contain_text(run["name"])
    expect(page.get_by_test_id("account")).to_contain_text("ada")
    # The session lives in an HttpOnly cookie: page scripts cannot read it.
    assert "inloop_session" not in page.evaluate("document.cookie")
    cookie = next(c for c in page.context.cookies() if c["name"] == "inloop_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    shoot(page, "signed-in")

    # A write from the page (with its Origin) works with the cookie alone.
    page.goto(f"{ui}/runs/{run['id']}")
    page.get_by_role("button", name="Cancel run").click()
    page.get_by_role("button", name="Yes, cancel run").click()
    # The run's current state says who cancelled it (the state history repeats it).
    expect(page.locator("p.state-message")).to_have_text("cancelled by ada")

    page.get_by_test_id("account").get_by_role("button", name="Sign out").click()
    expect(heading).to_be_visible()
    assert not [c for c in page.context.cookies() if c["name"] == "inloop_session"]
