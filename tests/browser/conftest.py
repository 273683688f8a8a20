"""Browser fixtures: Debian's Chromium driven by Playwright's sync API.

The `server` and `run_flow_script` fixtures come from tests/conftest.py; these add a
browser, a page that records console errors and requests, screenshots, and a few API
helpers the browser tests share.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, Request, sync_playwright

CHROMIUM = os.environ.get("INLOOP_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).parent / "artifacts"


# Module scope, not session: while Playwright's sync API is started it leaves its event loop
# registered as running on the main thread, and every later test's sync inloop call would see
# "a running loop" and (by the dual-call rule) get an awaitable back.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).is_file():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: "
            "apt-get install -y --no-install-recommends chromium (never `playwright install`)"
        )
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@dataclass
class PageLog:
    """What a page said and sent while a test drove it."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)

    def posts(self, pattern: str = "") -> list[str]:
        return [url for method, url in self.requests if method == "POST" and pattern in url]

    def csp_violations(self) -> list[str]:
        return [text for text in self.console_errors if "Content Security Policy" in text]


@pytest.fixture
def page_log() -> PageLog:
    return PageLog()


@pytest.fixture
def page(browser: Browser, page_log: PageLog) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    context.set_default_timeout(15_000)
    page = context.new_page()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            page_log.console_errors.append(message.text)

    def on_request(request: Request) -> None:
        page_log.requests.append((request.method, request.url))

    page.on("console", on_console)
    page.on("pageerror", lambda error: page_log.page_errors.append(str(error)))
    page.on("request", on_request)
    yield page
    context.close()


@pytest.fixture
def shoot(request: pytest.FixtureRequest) -> Callable[[Page, str], Path]:
    """Save a full-page screenshot under tests/browser/artifacts/<test>-<name>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    test = re.sub(r"[^a-z0-9_]+", "-", request.node.name.lower())

    def shoot(page: Page, name: str) -> Path:
        path = ARTIFACTS / f"{test}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return shoot


@pytest.fixture
def ui(server: Any) -> str:
    """The UI's root URL, without a trailing slash."""
    return str(server.ui_url).rstrip("/")


@pytest.fixture
def flow_name() -> str:
    """A flow name unique to this test, so tests sharing a server never see each other's runs."""
    return f"ui-{uuid.uuid4().hex[:10]}"
