"""Guessing passwords: after a few failures an account, or an address, must wait (a 429 with
Retry-After), every failure is an event, and the right password works once the wait is over.
The throttle's windows are made short by settings, so nothing here waits for real minutes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.waiting import wait_for

PASSWORD = "olive's long password"
FAST = {
    "INLOOP_SIGNIN_BACKOFF_SECONDS": "1",
    "INLOOP_SIGNIN_BACKOFF_MAX_SECONDS": "2",
    "INLOOP_SIGNIN_WINDOW_SECONDS": "600",
}


def users_mode(info: Any) -> httpx.Client:
    """root (admin; the client returned is root's) and olive (operator, with a password)."""
    first = httpx.post(f"{info.api_url}/users", json={"name": "root", "role": "admin"})
    assert first.status_code == 201, first.text
    root = {"authorization": f"Bearer {first.json()['token']}"}
    made = httpx.post(
        f"{info.api_url}/users", headers=root,
        json={"name": "olive", "role": "operator", "password": PASSWORD},
    )
    assert made.status_code == 201, made.text
    return httpx.Client(base_url=info.api_url, timeout=30, headers=root)


def sign_in(http: httpx.Client, name: str, password: str) -> httpx.Response:
    return http.post("/session", json={"name": name, "password": password})


def test_an_account_waits_after_a_few_wrong_passwords_then_the_right_one_works(
    server_factory: Callable[..., Any],
) -> None:
    info = server_factory(
        INLOOP_SIGNIN_ACCOUNT_FAILURES="3", INLOOP_SIGNIN_ADDRESS_FAILURES="100", **FAST
    )
    with users_mode(info) as admin, httpx.Client(base_url=info.api_url, timeout=30) as http:
        for guess in ("guess-1", "guess-2", "guess-3"):
            assert sign_in(http, "olive", guess).status_code == 401
        refused = sign_in(http, "olive", PASSWORD)  # even the right one, while it waits
        assert refused.status_code == 429, refused.text
        assert 1 <= int(refused.headers["retry-after"]) <= 2
        detail = refused.json()["detail"]
        assert "too many failed sign-ins for 'olive' (3 in the last 10 min)" in detail
        assert "try again after" in detail and "UTC" in detail

        # A name no one has is throttled alike: the answers do not tell which names exist.
        for guess in ("guess-1", "guess-2", "guess-3"):
            assert sign_in(http, "nobody", guess).status_code == 401
        assert sign_in(http, "nobody", "guess-4").status_code == 429

        signed = wait_for(lambda: (r := sign_in(http, "olive", PASSWORD)).status_code != 429 and r)
        assert signed.status_code == 200, signed.text
        assert signed.json()["actor"] == "olive"

        # A sign-in clears the account's failures: one more wrong guess is a plain 401.
        http.cookies.clear()
        assert sign_in(http, "olive", "guess-5").status_code == 401
        kinds = [
            (e["kind"], e["actor"])
            for e in admin.get("/events", params={"kind": "session."}).json()
        ]
        failed = ("session.sign-in-failed", "olive")
        assert kinds.count(failed) == 4 and kinds.count(("session.sign-in-failed", "nobody")) == 3
        assert kinds.index(("session.signed-in", "olive")) == len(kinds) - 2
        assert "guess-" not in str(admin.get("/events").json())  # never a password


def test_an_address_waits_after_a_few_wrong_passwords_for_any_names(
    server_factory: Callable[..., Any],
) -> None:
    info = server_factory(
        INLOOP_SIGNIN_ACCOUNT_FAILURES="100", INLOOP_SIGNIN_ADDRESS_FAILURES="4", **FAST
    )
    with users_mode(info), httpx.Client(base_url=info.api_url, timeout=30) as http:
        for name in ("ann", "bob", "cy", "dee"):
            assert sign_in(http, name, "guess").status_code == 401
        refused = sign_in(http, "olive", PASSWORD)
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["retry-after"]) >= 1
        assert "too many failed sign-ins from 127.0.0.1 (4 in the last" in refused.json()["detail"]
        signed = wait_for(lambda: (r := sign_in(http, "olive", PASSWORD)).status_code != 429 and r)
        assert signed.status_code == 200, signed.text
