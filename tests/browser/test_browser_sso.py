"""SSO in the browser: "Sign in with SSO" goes through a real OpenID Connect provider process
(oidc-provider-mock) and lands signed in where it started; the Audit page shows the sign-in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.oidc_provider import OidcProvider

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

API_KEY = "browser-sso-key"


def test_sign_in_with_sso_lands_signed_in_and_shows_in_the_audit(
    page: Page,
    server_factory: Callable[..., Any],
    oidc_provider: OidcProvider,
    shoot: Callable[[Page, str], Any],
) -> None:
    info = server_factory(**oidc_provider.settings(INLOOP_API_KEY=API_KEY))
    headers = {"authorization": f"Bearer {API_KEY}"}
    # The admin exists before SSO is used and is linked to her provider account explicitly
    # (a provider name alone never takes over a local user).
    made = httpx.post(f"{info.api_url}/users", json={"name": "ada", "role": "admin"},
                      headers=headers)
    assert made.status_code == 201, made.text
    linked = httpx.patch(f"{info.api_url}/users/ada", json={"sso_subject": "sub-ada"},
                         headers=headers)
    assert linked.status_code == 200, linked.text
    oidc_provider.set_claims("sub-ada", preferred_username="ada", groups=["finance"])
    ui = info.ui_url.rstrip("/")

    page.goto(f"{ui}/audit?kind=session.")
    expect(page.get_by_role("heading", name="Sign in to inloop")).to_be_visible()
    shoot(page, "sign-in-with-sso")
    page.get_by_role("link", name="Sign in with SSO").click()

    # The provider's own authorize page: say who we are.
    page.get_by_placeholder("sub").fill("sub-ada")
    page.get_by_role("button", name="Authorize").click()

    expect(page).to_have_url(f"{ui}/audit?kind=session.")
    expect(page.get_by_test_id("account")).to_contain_text("ada")
    signed_in = page.get_by_test_id("events-table").locator(
        "tr[data-event-kind='session.signed-in']"
    )
    expect(signed_in).to_contain_text("ada")
    expect(signed_in).to_contain_text("method sso")
    cookie = next(c for c in page.context.cookies() if c["name"] == "inloop_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    shoot(page, "signed-in")
