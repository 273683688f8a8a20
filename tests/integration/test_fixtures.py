"""The shared fixtures in tests/conftest.py do what other tests rely on."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from inloop import flow, get_client

if TYPE_CHECKING:
    from tests.servers import ServerInfo


def test_server_is_active_in_this_process(server: ServerInfo) -> None:
    assert os.environ["INLOOP_API_URL"] == server.api_url
    assert "INLOOP_API_KEY" not in os.environ
    assert server.api_url == f"http://127.0.0.1:{server.port}/api"
    assert server.ui_url == f"http://127.0.0.1:{server.port}"
    assert server.env == {"INLOOP_API_URL": server.api_url, "INLOOP_HOME": str(server.home)}
    assert server.process is not None and server.process.poll() is None


def test_fresh_server_is_empty_and_takes_over(
    server: ServerInfo, fresh_server: ServerInfo, client: Any
) -> None:
    assert fresh_server.port != server.port
    assert os.environ["INLOOP_API_URL"] == fresh_server.api_url
    assert client.api_url == fresh_server.api_url
    assert client.read_flow_runs() == []

    @flow(name="fresh-only")
    def fresh_only() -> int:
        return 1

    fresh_only()
    assert len(get_client().read_flow_runs(flow_name="fresh-only")) == 1
    assert get_client(api_url=server.api_url).read_flow_runs(flow_name="fresh-only") == []


def test_environment_is_restored_after_fresh_server(server: ServerInfo) -> None:
    assert os.environ["INLOOP_API_URL"] == server.api_url


def test_server_factory_keeps_this_process_pointed_at_server(
    server: ServerInfo, server_factory: Callable[..., ServerInfo]
) -> None:
    other = server_factory(INLOOP_API_KEY="k")
    assert other.api_key == "k"
    assert other.env["INLOOP_API_KEY"] == "k"
    assert os.environ["INLOOP_API_URL"] == server.api_url


def test_run_flow_script_from_source_with_args_and_env(
    run_flow_script: Callable[..., Any], server: ServerInfo
) -> None:
    script = "import os, sys\nprint(sys.argv[1:], os.environ['INLOOP_API_URL'], os.environ['X'])\n"
    process = run_flow_script(script, "a", "b", env={"X": "y"})
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert out.strip() == f"['a', 'b'] {server.api_url} y"


def test_run_flow_script_leftovers_are_killed(run_flow_script: Callable[..., Any]) -> None:
    process = run_flow_script("import time\ntime.sleep(600)\n")
    assert process.poll() is None  # the fixture's teardown kills it and closes its pipes
