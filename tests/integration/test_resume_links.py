"""Signed resume links through a real server: made for one pause, used once, judged by their row.

Each test pauses a run of its own directly through the API (no flow process: these tests talk
to the server only), makes a link, and reads or uses it with nothing but its token.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from itsdangerous import URLSafeSerializer
from pydantic import Field
from sqlalchemy.ext.asyncio import create_async_engine

import inloop
from inloop import get_client
from inloop.flow_runs import create_resume_link
from inloop.input import RunInput
from inloop.schemas import StateType
from inloop.server.database.engine import MIGRATIONS, Database
from inloop.server.database.schema import resume_links, utcnow

# Awaits @dual functions the way the seed examples do: right at run time, reported by a type
# checker (see inloop._dual), hence the `type: ignore[misc]` on those lines.

RECIPIENT = "alice@example.com"
DESCRIPTION = "**Approve** the refund?\n\n<script>alert(1)</script>"


class Approval(RunInput):
    approved: bool = Field(title="Approved")
    note: str = Field(default="", title="Note", max_length=100)


def paused_run(key: str = "paused-1") -> Any:
    client = get_client()
    run = client.create_flow_run("links", state=StateType.RUNNING)
    return client.pause_flow_run(
        run.id, key, schema=Approval.model_json_schema(), description=DESCRIPTION
    )


def token_of(url: str) -> str:
    path = urlsplit(url).path
    assert path.startswith("/r/"), url
    return path.removeprefix("/r/")


def new_link(run_id: Any, **kwargs: Any) -> str:
    return token_of(create_resume_link(run_id, recipient=RECIPIENT, **kwargs))


def run_events(api: httpx.Client, run_id: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = api.get("/events", params={"flow_run_id": str(run_id)}).json()
    return found


def database_url(server: Any) -> str:
    return str(server.database_url or f"sqlite+aiosqlite:///{server.home / 'inloop.db'}")


def backdate_expiry(server: Any, link_id: str) -> None:
    """Time passing: the link's expiry moves into the past, as its row will say one day."""

    async def run() -> None:
        db = Database(database_url(server))
        try:
            async with db.transaction() as tx:
                await tx.execute(
                    resume_links.update()
                    .where(resume_links.c.id == link_id)
                    .values(expires_at=utcnow() - timedelta(minutes=5))
                )
        finally:
            await db.stop()

    asyncio.run(run())


def read_signing_key(server: Any) -> str:
    async def run() -> str:
        db = Database(database_url(server))
        try:
            async with db.read() as conn:
                value: str = (
                    await conn.execute(sa.text("SELECT value FROM server_secrets"))
                ).scalar_one()
                return value
        finally:
            await db.stop()

    return asyncio.run(run())


# --- creating ----------------------------------------------------------------------------------


def test_create_answers_the_url_and_the_pause_it_is_bound_to(server: Any, api) -> None:
    run = paused_run()
    response = api.post(
        f"/flow_runs/{run.id}/links", json={"recipient": RECIPIENT, "expires_in": 3600}
    )
    assert response.status_code == 201, response.text
    link = response.json()
    assert link["url"].startswith(f"{server.ui_url}/r/")
    assert link["pause_key"] == "paused-1"
    assert link["recipient"] == RECIPIENT
    assert link["flow_run_id"] == str(run.id)
    created = [e for e in run_events(api, run.id) if e["kind"] == "link.created"]
    assert len(created) == 1
    assert created[0]["details"]["recipient"] == RECIPIENT
    assert created[0]["actor"].startswith("local:")


def test_the_python_api_returns_the_url_sync_and_async_and_is_top_level(server: Any) -> None:
    assert inloop.create_resume_link is create_resume_link
    run = paused_run()
    url = create_resume_link(run.id, recipient=RECIPIENT, expires_in=timedelta(hours=2))
    assert url.startswith(f"{server.ui_url}/r/")

    async def from_async() -> str:
        found: str = await create_resume_link(run.id, recipient="bob")  # type: ignore[misc]
        return found

    other = asyncio.run(from_async())
    assert other.startswith(f"{server.ui_url}/r/") and other != url


def test_a_run_that_is_not_paused_gets_no_link(api) -> None:
    run = get_client().create_flow_run("links", state=StateType.RUNNING)
    response = api.post(f"/flow_runs/{run.id}/links", json={"recipient": RECIPIENT})
    assert response.status_code == 409
    assert "is not paused (state: Running)" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"recipient": ""}, "recipient"),
        ({"recipient": "a\nb"}, "recipient"),
        ({"recipient": RECIPIENT, "expires_in": 10}, "expires_in"),
        ({"recipient": RECIPIENT, "expires_in": 91 * 86400}, "expires_in"),
        ({}, "recipient"),
    ],
)
def test_create_bounds_recipient_and_expiry(api, body: dict[str, Any], field: str) -> None:
    run = paused_run()
    response = api.post(f"/flow_runs/{run.id}/links", json=body)
    assert response.status_code == 422, response.text
    assert [e["loc"][-1] for e in response.json()["detail"]] == [field]


# --- reading changes nothing -------------------------------------------------------------------


def test_get_shows_run_pause_description_and_schema(api) -> None:
    run = paused_run()
    view = api.get(f"/links/{new_link(run.id)}").json()
    assert view["status"] == "open"
    assert view["recipient"] == RECIPIENT
    assert view["run"]["name"] == run.name
    assert view["pause"]["key"] == "paused-1"
    assert view["pause"]["description"] == DESCRIPTION  # sanitized where it is rendered
    assert view["pause"]["schema"]["required"] == ["approved"]
    assert view["pause"]["on_timeout"] == "fail"


def test_the_link_says_a_pause_takes_its_defaults_at_its_deadline(api) -> None:
    run = get_client().create_flow_run("links", state=StateType.RUNNING)
    get_client().pause_flow_run(
        run.id,
        "paused-1",
        schema=Approval.model_json_schema(),
        timeout=600,
        on_timeout="defaults",
        timeout_input={"approved": False},
    )
    pause = api.get(f"/links/{new_link(run.id)}").json()["pause"]
    assert pause["on_timeout"] == "defaults"
    assert pause["deadline"] is not None


def test_a_plain_get_of_the_page_or_the_api_changes_nothing(server: Any, api) -> None:
    run = paused_run()
    token = new_link(run.id)
    before_run = api.get(f"/flow_runs/{run.id}").json()
    before_events = run_events(api, run.id)
    with httpx.Client(base_url=server.ui_url, timeout=30) as page:
        for _ in range(3):  # a mail scanner, a link preview, the person
            shown = page.get(f"/r/{token}")
            assert shown.status_code == 200
            assert "text/html" in shown.headers["content-type"]
            assert page.head(f"/r/{token}").status_code == 200
            assert api.get(f"/links/{token}").json()["status"] == "open"
    assert api.get(f"/flow_runs/{run.id}").json() == before_run
    assert run_events(api, run.id) == before_events
    view = api.get(f"/links/{token}").json()
    assert view["used_at"] is None and view["status"] == "open"


# --- using -------------------------------------------------------------------------------------


def test_use_once_resumes_as_the_recipient_then_refuses_with_when(api) -> None:
    run = paused_run()
    token = new_link(run.id)
    used = api.post(f"/links/{token}", json={"run_input": {"approved": True}})
    assert used.status_code == 200, used.text
    assert used.json()["state"]["type"] == "RUNNING"
    answer = get_client().read_flow_run_input(run.id, "paused-1-response")
    assert answer is not None
    assert answer.value == {"approved": True}
    assert answer.sender == f"link:{RECIPIENT}"
    history = api.get(f"/flow_runs/{run.id}/states").json()
    assert history[-1]["details"]["resumed_by"] == f"link:{RECIPIENT}"
    kinds = [(e["kind"], e["actor"]) for e in run_events(api, run.id)]
    assert ("link.used", f"link:{RECIPIENT}") in kinds
    assert ("flow-run.resumed", f"link:{RECIPIENT}") in kinds

    again = api.post(f"/links/{token}", json={"run_input": {"approved": False}})
    assert again.status_code == 409
    body = again.json()
    assert body["link"]["status"] == "used"
    assert body["link"]["used_at"] is not None
    assert body["link"]["at"] == body["link"]["used_at"]
    assert "already used" in body["detail"]
    assert body["link"]["pause"] is None  # a closed link shows no form
    assert api.get(f"/links/{token}").json()["status"] == "used"
    again = get_client().read_flow_run_input(run.id, "paused-1-response")
    assert again is not None and again.value == answer.value


def test_a_refused_answer_leaves_the_link_usable(api) -> None:
    run = paused_run()
    token = new_link(run.id)
    refused = api.post(f"/links/{token}", json={"run_input": {"approved": "maybe"}})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["run_input", "approved"]
    assert api.get(f"/links/{token}").json()["status"] == "open"
    rejected = [e for e in run_events(api, run.id) if e["kind"] == "flow-run.input-rejected"]
    assert rejected[-1]["actor"] == f"link:{RECIPIENT}"
    assert api.post(f"/links/{token}", json={"run_input": {"approved": True}}).status_code == 200


def test_an_expired_link_says_when_it_expired(server: Any, api) -> None:
    run = paused_run()
    token = new_link(run.id)
    link_id = api.get(f"/links/{token}").json()["id"]
    backdate_expiry(server, link_id)
    view = api.get(f"/links/{token}").json()
    assert view["status"] == "expired"
    assert view["at"] == view["expires_at"]
    assert "expired at" in view["message"]
    refused = api.post(f"/links/{token}", json={"run_input": {"approved": True}})
    assert refused.status_code == 409
    assert refused.json()["link"]["status"] == "expired"
    assert api.get(f"/flow_runs/{run.id}").json()["state"]["type"] == "PAUSED"


def test_a_link_is_superseded_when_the_run_is_answered_another_way(api) -> None:
    run = paused_run()
    token = new_link(run.id)
    resumed = api.post(f"/flow_runs/{run.id}/resume", json={"run_input": {"approved": False}})
    assert resumed.status_code == 200
    # ... and paused again, under a new key: the link still answers only its own pause.
    get_client().pause_flow_run(run.id, "paused-2", schema=Approval.model_json_schema())
    view = api.get(f"/links/{token}").json()
    assert view["status"] == "superseded"
    assert "answered another way" in view["message"]
    assert view["at"] is not None
    refused = api.post(f"/links/{token}", json={"run_input": {"approved": True}})
    assert refused.status_code == 409
    assert refused.json()["link"]["status"] == "superseded"
    run_now = api.get(f"/flow_runs/{run.id}").json()
    assert run_now["state"]["type"] == "PAUSED" and run_now["pause"]["key"] == "paused-2"


def test_a_link_is_superseded_when_the_run_ends(api) -> None:
    run = paused_run()
    token = new_link(run.id)
    assert api.post(f"/flow_runs/{run.id}/cancel").status_code == 200
    view = api.get(f"/links/{token}").json()
    assert view["status"] == "superseded"
    assert "has ended (Cancelled)" in view["message"]
    assert api.post(f"/links/{token}", json={}).status_code == 409


# --- forged, garbled, or for something else ----------------------------------------------------


def test_forged_and_garbled_tokens_are_a_clean_404(server: Any, api) -> None:
    run = paused_run()
    token = new_link(run.id)
    link_id = api.get(f"/links/{token}").json()["id"]
    other_key = URLSafeSerializer("not-this-servers-key", salt="inloop.resume-link")
    right_key_wrong_salt = URLSafeSerializer(read_signing_key(server), salt="inloop.run-token")
    run_token = get_client().create_flow_run("links").run_token
    for bad in (
        "garbage",
        token[:-3],
        token + "x",
        other_key.dumps({"link": link_id}),
        right_key_wrong_salt.dumps({"link": link_id}),
        run_token,
        "a" * 5000,
    ):
        for response in (
            api.get(f"/links/{bad}"),
            api.post(f"/links/{bad}", json={"run_input": {"approved": True}}),
        ):
            assert response.status_code == 404, (bad, response.text)
            assert "not a valid inloop resume link" in response.json()["detail"]
    assert api.get(f"/flow_runs/{run.id}").json()["state"]["type"] == "PAUSED"


def test_links_need_no_key_on_a_keyed_server_and_grant_nothing_else(server_factory) -> None:
    keyed = server_factory(activate=True, INLOOP_API_KEY="s3cret")
    run = paused_run()
    token = new_link(run.id)
    with httpx.Client(base_url=keyed.api_url, timeout=30) as anonymous:
        assert anonymous.get(f"/links/{token}").json()["status"] == "open"
        for method, path in (
            ("GET", f"/flow_runs/{run.id}"),
            ("POST", f"/flow_runs/{run.id}/links"),
            ("GET", "/links"),
            ("GET", f"/links/{token}/x"),
            ("DELETE", f"/links/{token}"),
        ):
            assert anonymous.request(method, path).status_code == 401, (method, path)
        used = anonymous.post(f"/links/{token}", json={"run_input": {"approved": True}})
        assert used.status_code == 200, used.text


# --- two uses at once --------------------------------------------------------------------------


def race(api_url: str, token: str) -> list[httpx.Response]:
    """POST two uses of one link at the same instant, each from its own thread and connection."""
    barrier = threading.Barrier(2)
    responses: list[httpx.Response | None] = [None, None]

    def use(i: int) -> None:
        with httpx.Client(base_url=api_url, timeout=30) as http:
            http.get("/health")  # connect first, so the POSTs leave together
            barrier.wait()
            responses[i] = http.post(
                f"/links/{token}", json={"run_input": {"approved": True, "note": str(i)}}
            )

    threads = [threading.Thread(target=use, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return [r for r in responses if r is not None]


def test_two_concurrent_uses_of_one_link_exactly_one_wins(server: Any, api) -> None:
    for attempt in range(5):
        run = paused_run()
        responses = race(server.api_url, new_link(run.id))
        codes = sorted(r.status_code for r in responses)
        assert codes == [200, 409], (attempt, [r.text for r in responses])
        loser = next(r for r in responses if r.status_code == 409)
        assert loser.json()["link"]["status"] == "used"
        used = [e for e in run_events(api, run.id) if e["kind"] == "link.used"]
        assert len(used) == 1
        history = api.get(f"/flow_runs/{run.id}/states").json()
        assert [s["type"] for s in history].count("RUNNING") == 2  # started, resumed once


# --- an existing database ----------------------------------------------------------------------


def test_a_database_from_before_links_upgrades_and_its_paused_run_gets_a_link(
    fresh_server: Any,
) -> None:
    with httpx.Client(base_url=fresh_server.api_url, timeout=30) as http:
        run = http.post("/flow_runs", json={"flow_name": "old", "state": "RUNNING"}).json()
        paused = http.post(f"/flow_runs/{run['id']}/pause", json={"key": "paused-1"})
        assert paused.status_code == 200, paused.text
    fresh_server.stop()

    async def downgrade_to_before_links() -> None:
        def work(conn: sa.Connection) -> None:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = conn
            command.downgrade(config, "0006")

        engine = create_async_engine(database_url(fresh_server))
        try:
            async with engine.begin() as conn:
                await conn.run_sync(work)
                tables = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
            assert "resume_links" not in tables
        finally:
            await engine.dispose()

    asyncio.run(downgrade_to_before_links())
    fresh_server.start()  # migrates to head: 0009 creates the table
    with httpx.Client(base_url=fresh_server.api_url, timeout=30) as http:
        created = http.post(f"/flow_runs/{run['id']}/links", json={"recipient": "old@example.com"})
        assert created.status_code == 201, created.text
        used = http.post(f"/links/{token_of(created.json()['url'])}", json={})
        assert used.status_code == 200, used.text
