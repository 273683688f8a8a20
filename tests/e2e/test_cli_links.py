"""`inloop flow-run link`, run as a subprocess against a real server."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

from inloop import get_client
from inloop.schemas import StateType
from tests.e2e.processes import cli


def paused_run_name() -> str:
    client = get_client()
    run = client.create_flow_run("cli-links", state=StateType.RUNNING)
    client.pause_flow_run(run.id, "paused-1", schema={"type": "object", "properties": {}})
    return run.name


def test_link_prints_the_url_alone_and_the_link_resumes_as_the_recipient(server: Any) -> None:
    name = paused_run_name()
    result = cli(
        server, "flow-run", "link", name, "--recipient", "alice@example.com", "--expires", "2d"
    )
    assert result.returncode == 0, result.stderr
    url = result.stdout.strip()
    assert url.startswith(f"{server.ui_url}/r/") and "\n" not in url
    assert "alice@example.com" in result.stderr and "paused-1" in result.stderr
    token = url.removeprefix(f"{server.ui_url}/r/")
    with httpx.Client(base_url=server.api_url, timeout=30) as http:
        view = http.get(f"/links/{token}").json()
        lifetime = datetime.fromisoformat(view["expires_at"]) - datetime.fromisoformat(
            view["created_at"]
        )
        assert lifetime == timedelta(days=2)
        used = http.post(f"/links/{token}", json={"run_input": {}})
        assert used.status_code == 200, used.text
        assert used.json()["state"]["details"]["resumed_by"] == "link:alice@example.com"


def test_link_refuses_a_run_that_is_not_paused_and_a_bad_expiry(server: Any) -> None:
    run = get_client().create_flow_run("cli-links", state=StateType.RUNNING)
    refused = cli(server, "flow-run", "link", str(run.id), "--recipient", "bob")
    assert refused.returncode == 1
    assert "is not paused" in refused.stderr
    for expires in ("never", "soon"):
        bad = cli(server, "flow-run", "link", paused_run_name(), "--recipient", "bob",
                  "--expires", expires)
        assert bad.returncode == 1
        assert "--expires" in bad.stderr
