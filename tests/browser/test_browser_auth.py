"""With INLOOP_API_KEY set, the UI asks for the key once and sends it with every request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

KEY = "s3cret-key-for-browser-tests"


@pytest.fixture
def keyed_server(server_factory: Callable[..., Any]) -> str:
    """A server of our own, started with an API key; its root URL."""
    return str(server_factory(INLOOP_API_KEY=KEY).ui_url).rstrip("/")


def test_ui_asks_for_the_api_key_once(page: Page, page_log, keyed_server: str, shoot) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    assert httpx.get(f"{keyed_server}/api/flow_runs").status_code == 401
    created = httpx.post(
        f"{keyed_server}/api/flow_runs", json={"flow_name": "keyed-flow"}, headers=headers
    )
    assert created.status_code == 201, created.text
    run = created.json()

    page.goto(f"{keyed_server}/runs")  # static files need no key
    dialog = page.get_by_role("heading", name="API key required")
    expect(dialog).to_be_visible()
    shoot(page, "prompt")

    page.get_by_label("API key", exact=True).fill("wrong")
    page.get_by_role("button", name="Save key").click()
    expect(page.get_by_text("The server rejected that key")).to_be_visible()

    page.get_by_label("API key", exact=True).fill(KEY)
    page.get_by_label("API key", exact=True).press("Enter")
    expect(dialog).to_have_count(0)
    expect(page.get_by_test_id("runs-table")).to_contain_text(run["name"])
    assert page.evaluate("localStorage.getItem('inloop.apiKey')") == KEY

    # Remembered: a reload and the long-polling run page need no prompt.
    page.goto(f"{keyed_server}/runs/{run['id']}")
    expect(page.get_by_role("heading", name=run["name"])).to_be_visible()
    expect(dialog).to_have_count(0)
    shoot(page, "run")
    requests = [url for _, url in page_log.requests if "/api/" in url]
    assert any("/wait?" in url for url in requests) or any("/logs?" in url for url in requests)
