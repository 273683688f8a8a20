"""Migration 0007 (SSO) keeps an existing database's users, tokens and sessions working."""

from __future__ import annotations

from typing import Any

import httpx
import sqlalchemy as sa

from .test_block_ids_migration import _database_url, _migrate, _on_database

PASSWORD = "a long enough password"


def test_users_tokens_and_sessions_survive_a_downgrade_and_the_upgrade(
    fresh_server: Any,
) -> None:
    made = httpx.post(
        f"{fresh_server.api_url}/users", json={"name": "ada", "role": "admin", "password": PASSWORD}
    )
    assert made.status_code == 201, made.text
    token = made.json()["token"]
    with httpx.Client(base_url=fresh_server.ui_url, timeout=30) as browser:
        assert browser.post(
            "/api/session", json={"name": "ada", "password": PASSWORD}
        ).status_code == 200
        fresh_server.stop()

        def back_to_0006(conn: sa.Connection) -> int:
            _migrate(conn, "0006", down=True)
            columns = {c["name"] for c in sa.inspect(conn).get_columns("users")}
            assert "oidc_subject" not in columns
            return int(conn.execute(sa.text("SELECT count(*) FROM api_tokens")).scalar_one())

        assert _on_database(_database_url(fresh_server), back_to_0006) == 1
        fresh_server.start()  # migrates to head again

        headers = {"authorization": f"Bearer {token}"}
        user = httpx.get(f"{fresh_server.api_url}/users/ada", headers=headers)
        assert user.status_code == 200, user.text
        assert user.json()["sso"] is False
        assert browser.get("/api/session").json()["actor"] == "ada"
