"""SSO end to end: a real inloop server signing people in against a real OpenID Connect provider
process (oidc-provider-mock), driven the way a browser would with httpx.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.e2e.processes import cli
from tests.oidc_provider import OidcProvider, running_provider
from tests.servers import free_port

API_KEY = "sso-test-admin-key"


@pytest.fixture
def sso_server(server_factory: Callable[..., Any], oidc_provider: OidcProvider) -> Any:
    return server_factory(**oidc_provider.settings(INLOOP_API_KEY=API_KEY))


@pytest.fixture
def open_browser() -> Iterator[Callable[[Any], httpx.Client]]:
    """`open_browser(info)`: a cookie-keeping client on the server's UI, closed at the end."""
    opened: list[httpx.Client] = []

    def open_one(info: Any) -> httpx.Client:
        opened.append(httpx.Client(base_url=info.ui_url, timeout=30))
        return opened[-1]

    yield open_one
    for client in opened:
        client.close()


def admin(info: Any) -> httpx.Client:
    return httpx.Client(
        base_url=info.api_url, headers={"authorization": f"Bearer {API_KEY}"}, timeout=30
    )


def start_sign_in(browser: httpx.Client, next_path: str | None = None) -> str:
    """GET /api/session/sso; the provider's authorization URL it redirects to."""
    query = f"?{urlencode({'next': next_path})}" if next_path else ""
    answer = browser.get(f"/api/session/sso{query}")
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def authorize(authorization_url: str, sub: str) -> str:
    """Submit the provider's authorize form as `sub`; the callback URL it sends us back to."""
    form = httpx.get(authorization_url, timeout=30)
    assert form.status_code == 200 and 'name="sub"' in form.text, form.text
    answer = httpx.post(authorization_url, data={"sub": sub}, timeout=30)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def sign_in(browser: httpx.Client, sub: str, next_path: str | None = None) -> httpx.Client:
    """`browser`, after going through the whole SSO sign-in as `sub`."""
    callback = authorize(start_sign_in(browser, next_path), sub)
    landed = browser.get(callback)
    assert landed.status_code == 303, landed.text
    assert landed.headers["location"] == (next_path or "/")
    return browser


def test_sso_sign_in_creates_the_user_with_the_claimed_groups_and_a_working_session(
    sso_server: Any, oidc_provider: OidcProvider,
    open_browser: Callable[[Any], httpx.Client]
) -> None:
    oidc_provider.set_claims(
        "sub-ada", preferred_username="ada", email="ada@example.com", email_verified=True,
        groups=["finance", "ops"],
    )
    session = httpx.get(f"{sso_server.api_url}/session").json()
    # SSO configured: sign-in is required from the start, and the UI is told SSO is there.
    assert session == {"mode": "users", "actor": None, "kind": None, "role": None,
                       "groups": [], "sso": True}
    assert httpx.get(f"{sso_server.api_url}/flow_runs").status_code == 401

    browser = sign_in(open_browser(sso_server), "sub-ada", next_path="/runs")
    cookie = next(c for c in browser.cookies.jar if c.name == "inloop_session")
    assert cookie.has_nonstandard_attr("HttpOnly") and cookie.path == "/"
    assert "inloop_sso_state" not in {c.name for c in browser.cookies.jar}

    me = browser.get("/api/session").json()
    assert (me["actor"], me["kind"], me["role"], me["groups"]) == (
        "ada", "user", "viewer", ["finance", "ops"]
    )
    assert browser.get("/api/flow_runs").status_code == 200
    with admin(sso_server) as api:
        user = api.get("/users/ada").json()
        assert (user["email"], user["sso"], user["has_password"]) == (
            "ada@example.com", True, False
        )
        events = api.get("/events", params={"actor": "ada"}).json()
    kinds = [(e["kind"], e["details"].get("method") or e["details"].get("via")) for e in events]
    assert kinds == [("user.created", "sso"), ("session.signed-in", "sso")]
    assert events[1]["remote"] == "127.0.0.1"


def test_groups_are_replaced_at_every_sign_in_and_a_missing_claim_means_none(
    sso_server: Any, oidc_provider: OidcProvider,
    open_browser: Callable[[Any], httpx.Client]
) -> None:
    oidc_provider.set_claims("sub-bo", preferred_username="bo", groups=["finance"])
    first = sign_in(open_browser(sso_server), "sub-bo")
    assert first.get("/api/session").json()["groups"] == ["finance"]

    oidc_provider.set_claims("sub-bo", preferred_username="bo", groups=["legal", "ops"])
    second = sign_in(open_browser(sso_server), "sub-bo")
    assert second.get("/api/session").json()["groups"] == ["legal", "ops"]
    # The first browser's session is the same user: it sees the new groups too.
    assert first.get("/api/session").json()["groups"] == ["legal", "ops"]

    oidc_provider.set_claims("sub-bo", preferred_username="bo")
    third = sign_in(open_browser(sso_server), "sub-bo")
    assert third.get("/api/session").json()["groups"] == []
    with admin(sso_server) as api:
        assert [u["name"] for u in api.get("/users").json()] == ["bo"]


def test_a_provider_name_never_takes_over_a_local_user_an_admin_links_explicitly(
    sso_server: Any, oidc_provider: OidcProvider,
    open_browser: Callable[[Any], httpx.Client]
) -> None:
    with admin(sso_server) as api:
        made = api.post("/users", json={"name": "boss", "role": "admin",
                                        "email": "boss@example.com", "password": "a long password"})
        assert made.status_code == 201, made.text
        made = api.post("/users", json={"name": "cy", "role": "operator",
                                        "email": "cy@example.com"})
        assert made.status_code == 201, made.text
    # A provider account calling itself boss (with boss's address, verified) is a new viewer
    # under a name of its own: the preferred name with a suffix from its subject.
    oidc_provider.set_claims("sub-evil", preferred_username="boss",
                             email="boss@example.com", email_verified=True)
    evil = sign_in(open_browser(sso_server), "sub-evil").get("/api/session").json()
    assert evil["actor"].startswith("boss-") and len(evil["actor"]) == len("boss-") + 6
    assert evil["role"] == "viewer"
    # Without INLOOP_OIDC_LINK_BY_EMAIL, a verified address does not match cy either.
    oidc_provider.set_claims("sub-cy", preferred_username="cy", email="cy@example.com",
                             email_verified=True)
    assert sign_in(open_browser(sso_server), "sub-cy").get("/api/session").json()["actor"] != "cy"
    with admin(sso_server) as api:
        for name in ("boss", "cy"):
            assert api.get(f"/users/{name}").json()["sso"] is False

    # The admin links the real boss explicitly, through the CLI; that account is boss now.
    linked = cli(sso_server, "user", "link-sso", "boss", "--subject", "sub-real-boss")
    assert linked.returncode == 0, linked.stderr
    assert "Linked user boss" in linked.stdout
    oidc_provider.set_claims("sub-real-boss", preferred_username="someone-else", groups=["ops"])
    me = sign_in(open_browser(sso_server), "sub-real-boss").get("/api/session").json()
    assert (me["actor"], me["role"], me["groups"]) == ("boss", "admin", ["ops"])
    # One provider account per user: linking the same subject elsewhere names the holder.
    again = cli(sso_server, "user", "link-sso", "cy", "--subject", "sub-real-boss")
    assert again.returncode != 0 and "already linked to user 'boss'" in again.stderr
    with admin(sso_server) as api:
        events = api.get("/events", params={"kind": "user.changed"}).json()
    assert [e["details"]["sso_subject"] for e in events] == [
        f"{oidc_provider.url} sub-real-boss"
    ]


def test_linking_by_verified_email_when_allowed_never_reaches_a_password_holder(
    server_factory: Callable[..., Any], oidc_provider: OidcProvider,
    open_browser: Callable[[Any], httpx.Client]
) -> None:
    info = server_factory(**oidc_provider.settings(
        INLOOP_API_KEY=API_KEY, INLOOP_OIDC_LINK_BY_EMAIL="true"
    ))
    with admin(info) as api:
        for body in ({"name": "root", "role": "admin"},
                     {"name": "dee", "role": "operator", "email": "dee@example.com"},
                     {"name": "pat", "role": "admin", "email": "pat@example.com",
                      "password": "a long password"}):
            assert api.post("/users", json=body).status_code == 201

    def actor(sub: str, **claims: Any) -> str:
        oidc_provider.set_claims(sub, **claims)
        return str(sign_in(open_browser(info), sub).get("/api/session").json()["actor"])

    # An address the provider did not verify matches no one (and is not kept).
    assert actor("sub-x", preferred_username="x", email="dee@example.com") == "x"
    # Verified: dee, who has no password, is linked (and keeps her role).
    assert actor("sub-dee", preferred_username="d", email="DEE@example.com",
                 email_verified=True) == "dee"
    # pat has a password: only an admin links her.
    assert actor("sub-pat", preferred_username="p", email="pat@example.com",
                 email_verified=True) == "p"
    with admin(info) as api:
        found = {u["name"]: (u["role"], u["sso"], u["email"]) for u in api.get("/users").json()}
    assert found["dee"] == ("operator", True, "dee@example.com")
    assert found["pat"] == ("admin", False, "pat@example.com")
    assert found["x"] == ("viewer", True, None)


def test_a_disabled_user_is_refused_with_a_page_saying_so(
    sso_server: Any, oidc_provider: OidcProvider,
    open_browser: Callable[[Any], httpx.Client]
) -> None:
    oidc_provider.set_claims("sub-di", preferred_username="di")
    sign_in(open_browser(sso_server), "sub-di")
    with admin(sso_server) as api:
        assert api.patch("/users/di", json={"disabled": True}).status_code == 200

    browser = open_browser(sso_server)
    refused = browser.get(authorize(start_sign_in(browser), "sub-di"))
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    assert "user &#x27;di&#x27; is disabled" in refused.text
    assert "inloop_session" not in {c.name for c in browser.cookies.jar}
    with admin(sso_server) as api:
        events = api.get("/events", params={"actor": "di", "kind": "session."}).json()
    assert [(e["kind"], e["details"].get("reason")) for e in events] == [
        ("session.signed-in", None), ("session.sign-in-failed", "user is disabled"),
    ]


def test_a_tampered_or_replayed_state_is_refused(
    sso_server: Any, oidc_provider: OidcProvider,
    open_browser: Callable[[Any], httpx.Client]
) -> None:
    oidc_provider.set_claims("sub-ed", preferred_username="ed")
    browser = open_browser(sso_server)
    authorization_url = start_sign_in(browser)
    query = parse_qs(urlsplit(authorization_url).query)
    # PKCE and a nonce go along with every authorization request.
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["nonce"][0] and query["state"][0]
    callback = authorize(authorization_url, "sub-ed")

    state = parse_qs(urlsplit(callback).query)["state"][0]
    tampered = browser.get(callback.replace(state, state[:-2] + "xx"))
    assert tampered.status_code == 400
    assert "state does not match" in tampered.text

    # A callback that reaches another browser (one that did not start this sign-in) is refused.
    stranger = open_browser(sso_server)
    assert stranger.get(callback).status_code == 400

    # The refused attempts consumed nothing: this browser can still finish once, not twice.
    assert browser.get(callback).status_code == 303
    replayed = browser.get(callback.replace("/callback?", "/callback?x=1&"))
    assert replayed.status_code == 400


def test_the_provider_saying_no_is_a_page_not_an_error(
    sso_server: Any, oidc_provider: OidcProvider,
    open_browser: Callable[[Any], httpx.Client]
) -> None:
    browser = open_browser(sso_server)
    authorization_url = start_sign_in(browser)
    denied = httpx.post(authorization_url, data={"action": "deny"}, timeout=30)
    assert denied.status_code == 302
    page = browser.get(denied.headers["location"])
    assert page.status_code == 403
    assert "did not sign you in (access_denied" in page.text


def test_a_code_issued_to_another_client_is_a_clear_page(
    server_factory: Callable[..., Any], oidc_provider: OidcProvider,
    open_browser: Callable[[Any], httpx.Client]
) -> None:
    info = server_factory(**oidc_provider.settings())
    oidc_provider.set_claims("sub-fi", preferred_username="fi")
    browser = open_browser(info)
    authorization_url = start_sign_in(browser).replace(
        "client_id=inloop-test", "client_id=someone-else"
    )
    page = browser.get(authorize(authorization_url, "sub-fi"))
    assert page.status_code == 502
    assert "the identity provider refused the sign-in code" in page.text


def test_an_expired_id_token_is_refused(
    server_factory: Callable[..., Any], open_browser: Callable[[Any], httpx.Client]
) -> None:
    # A provider whose tokens expired two minutes before they were issued: past any leeway.
    with running_provider("--token-max-age=-120") as stale:
        info = server_factory(**stale.settings())
        stale.set_claims("sub-gus", preferred_username="gus")
        browser = open_browser(info)
        page = browser.get(authorize(start_sign_in(browser), "sub-gus"))
        assert page.status_code == 401
        assert "the ID token was refused" in page.text and "exp" in page.text
        assert "inloop_session" not in {c.name for c in browser.cookies.jar}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"INLOOP_OIDC_ISSUER": "http://127.0.0.1:9"}, "INLOOP_OIDC_CLIENT_ID"),
        ({"INLOOP_OIDC_ISSUER": "http://idp.example.com", "INLOOP_OIDC_CLIENT_ID": "c",
          "INLOOP_OIDC_CLIENT_SECRET": "s"}, "INLOOP_OIDC_ISSUER='http://idp.example.com' uses"),
        ({"INLOOP_OIDC_ISSUER": "https://idp.example.com", "INLOOP_OIDC_CLIENT_ID": "c",
          "INLOOP_OIDC_CLIENT_SECRET": "s", "INLOOP_OIDC_DEFAULT_ROLE": "boss"},
         "INLOOP_OIDC_DEFAULT_ROLE='boss' is not a role"),
        ({"INLOOP_OIDC_ISSUER": "https://idp.example.com", "INLOOP_OIDC_CLIENT_ID": "c",
          "INLOOP_OIDC_CLIENT_SECRET": "s", "INLOOP_OIDC_SCOPES": "profile"},
         "INLOOP_OIDC_SCOPES='profile' lacks 'openid'"),
    ],
)
def test_bad_sso_settings_stop_the_server_naming_the_setting(
    settings: dict[str, str], message: str, tmp_path: Any
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INLOOP_")}
    env.update(settings, INLOOP_HOME=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "inloop", "server", "start", "--port", str(free_port())],
        env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1
    assert message in result.stderr + result.stdout


def test_anonymous_sign_in_starts_store_nothing_so_they_block_no_one(
    sso_server: Any, oidc_provider: OidcProvider, open_browser: Callable[[Any], httpx.Client]
) -> None:
    import sqlalchemy as sa

    from inloop.server.database.schema import metadata
    from tests.automation_helpers import with_database

    async def row_counts(db: Any) -> dict[str, int]:
        async with db.read() as conn:
            return {
                table.name: int((await conn.execute(
                    sa.select(sa.func.count()).select_from(table))).scalar_one())
                for table in metadata.sorted_tables
            }

    before = with_database(sso_server, row_counts)
    # Strangers starting sign-ins (each its own cookie-less client, as a flood would be) write
    # nothing: what the callback needs lives in each one's signed cookie.
    for _ in range(20):
        with httpx.Client(base_url=sso_server.ui_url, timeout=30) as stranger:
            answer = stranger.get("/api/session/sso")
            assert answer.status_code == 302
            set_cookie = answer.headers["set-cookie"].lower()
            assert "httponly" in set_cookie and "max-age=600" in set_cookie
    assert with_database(sso_server, row_counts) == before

    oidc_provider.set_claims("sub-flo", preferred_username="flo")
    browser = sign_in(open_browser(sso_server), "sub-flo", next_path="/runs")
    assert browser.get("/api/session").json()["actor"] == "flo"

