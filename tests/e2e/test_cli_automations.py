"""`inloop automation ...` run as a subprocess against a real server, from real YAML files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from inloop.automations import AutomationFile
from inloop.cli.automations import load_automation_file
from tests.automation_rows import insert_delivery
from tests.e2e.processes import EXAMPLES, cli

FILE = """\
automations:
  - name: cli-wait
    trigger:
      kinds: [flow-run.paused, flow-run.suspended]
      flow: "approve-*"
      after: 3600
      repeat: {every: 1800, times: 2}
    actions:
      - type: notify
        urls: ["json://localhost:9/hook"]
    escalate:
      - type: cancel-run
  - name: cli-hook
    trigger:
      kinds: [flow-run.failed]
    actions:
      - type: webhook
        url: "https://hooks.example.com/inloop"
"""


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_apply_ls_disable_deliveries_and_delete(server: Any, tmp_path: Path) -> None:
    path = tmp_path / "automations.yaml"
    path.write_text(FILE)
    out = ok(cli(server, "automation", "apply", "-f", str(path)))
    assert [line.split() for line in out.splitlines()] == [
        ["created", "cli-wait"], ["created", "cli-hook"]
    ]
    path.write_text(FILE.replace("times: 2", "times: 3"))
    out = ok(cli(server, "automation", "apply", "-f", str(path)))
    assert [line.split() for line in out.splitlines()] == [
        ["updated", "cli-wait"], ["unchanged", "cli-hook"]
    ]

    listed = ok(cli(server, "automation", "ls"))
    wait_line = next(line for line in listed.splitlines() if line.startswith("cli-wait"))
    assert "enabled" in wait_line
    assert "flow-run.paused, flow-run.suspended of flow approve-* after 1h, every 30m, " \
        "3 times" in wait_line
    assert "notify → cancel-run" in wait_line

    ok(cli(server, "automation", "disable", "cli-wait"))
    listed = ok(cli(server, "automation", "ls"))
    assert "disabled" in next(line for line in listed.splitlines() if line.startswith("cli-wait"))
    ok(cli(server, "automation", "enable", "cli-wait"))

    with httpx.Client(base_url=server.api_url, timeout=30) as http:
        automation_id = http.get("/automations/cli-hook").json()["id"]
        run = http.post("/flow_runs", json={"flow_name": "cli-auto"}).json()
    insert_delivery(server, automation_id, flow_run_id=run["id"], event_kind="flow-run.failed",
                    status="failed", errors=("HTTP 500 from hooks.example.com",))
    log = ok(cli(server, "automation", "deliveries", "cli-hook"))
    row = log.splitlines()[1]
    for shown in ("flow-run.failed", run["name"], "first", "webhook", "failed",
                  "HTTP 500 from hooks.example.com"):
        assert shown in row

    # Without --yes and without a terminal to answer, nothing is deleted.
    refused = cli(server, "automation", "delete", "cli-hook")
    assert refused.returncode == 1
    assert "not deleted" in refused.stderr
    ok(cli(server, "automation", "delete", "cli-hook", "--yes"))
    missing = cli(server, "automation", "deliveries", "cli-hook")
    assert missing.returncode == 1
    assert "no automation named 'cli-hook'" in missing.stderr


def test_delete_asks_to_confirm(server: Any, tmp_path: Path) -> None:
    path = tmp_path / "one.yaml"
    path.write_text(FILE.split("  - name: cli-hook")[0].replace("cli-wait", "cli-confirm"))
    ok(cli(server, "automation", "apply", "-f", str(path)))
    answered = subprocess.run(
        [sys.executable, "-m", "inloop", "automation", "delete", "cli-confirm"],
        env={**os.environ, **server.env}, capture_output=True, text=True, timeout=60,
        input="y\n",
    )
    assert answered.returncode == 0, answered.stderr
    assert "Deleted automation cli-confirm" in answered.stdout


def test_apply_names_the_yaml_path_of_each_bad_field(server: Any, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        FILE.replace("cli-wait", "cli-never")
        .replace("flow-run.suspended]", "flow-run.suspendd]")
        .replace('url: "https://hooks.example.com/inloop"', "secret: 12")
    )
    result = cli(server, "automation", "apply", "-f", str(path))
    assert result.returncode == 1
    err = result.stderr
    assert "3 invalid fields, nothing applied" in err
    assert "automations[0].trigger.kinds[1] (line 4)" in err
    assert "automations[1].actions[0].url (line 17): Field required" in err
    assert "automations[1].actions[0].secret (line 18): Input should be a valid string" in err
    path.write_text("automations:\n  - name: [unclosed\n")
    broken = cli(server, "automation", "apply", "-f", str(path))
    assert broken.returncode == 1
    assert f"{path}:3:1: not valid YAML" in broken.stderr
    with httpx.Client(base_url=server.api_url, timeout=30) as http:
        names = [a["name"] for a in http.get("/automations").json()]
    assert "cli-never" not in names


def test_apply_refuses_targets_on_the_servers_own_machine_naming_the_yaml_path(
    server: Any, tmp_path: Path
) -> None:
    path = tmp_path / "local.yaml"
    path.write_text(
        "automations:\n"
        "  - name: cli-local\n"
        "    trigger: {kinds: [flow-run.failed]}\n"
        "    actions:\n"
        "      - type: notify\n"
        "        urls: [\"json://hooks.example.com/ok\", \"file:///etc/passwd\"]\n"
        "      - type: webhook\n"
        "        url: unix:///var/run/docker.sock\n"
    )
    result = cli(server, "automation", "apply", "-f", str(path))
    assert result.returncode == 1
    err = " ".join(result.stderr.split())
    assert "automations[0].actions[0].urls[1] (line 6)" in err
    assert "file:// reaches the server's own machine" in err
    assert "automations[0].actions[1].url (line 8)" in err
    assert "a webhook URL is http:// or https://, not unix" in err


def test_apply_renders_templates_with_sample_data_and_refuses_broken_or_runaway_ones(
    server: Any, tmp_path: Path
) -> None:
    path = tmp_path / "templates.yaml"
    path.write_text(
        "automations:\n"
        "  - name: cli-fine\n"
        "    trigger: {kinds: [flow-run.paused]}\n"
        "    actions:\n"
        "      - type: notify\n"
        "        urls: [\"json://hooks.example.com/ok\"]\n"
        "        body: \"{{ run.name|upper }} for {{ recipient }}: {{ resume_url }}\"\n"
        "  - name: cli-runaway\n"
        "    trigger: {kinds: [flow-run.paused]}\n"
        "    actions:\n"
        "      - type: notify\n"
        "        urls: [\"json://hooks.example.com/ok\"]\n"
        "        title: \"{% for i in range(3000) %}{% for j in range(3000) %}"
        "{% endfor %}{% endfor %}\"\n"
        "  - name: cli-broken\n"
        "    trigger: {kinds: [flow-run.paused]}\n"
        "    actions:\n"
        "      - type: notify\n"
        "        urls: [\"json://hooks.example.com/ok\"]\n"
        "        body: \"{{ run.nmae }}\"\n"
    )
    result = cli(server, "automation", "apply", "-f", str(path))
    assert result.returncode == 1
    err = " ".join(result.stderr.split())
    assert "automation 'cli-runaway', actions[0].title" in err
    assert "over its budget: it takes more than 100,000 steps" in err
    assert "automation 'cli-broken', actions[0].body" in err
    assert "has no attribute 'nmae'" in err
    with httpx.Client(base_url=server.api_url, timeout=30) as http:
        names = [a["name"] for a in http.get("/automations").json()]
    assert "cli-fine" not in names  # all or nothing
    path.write_text(path.read_text().split("  - name: cli-runaway")[0])
    assert "created" in ok(cli(server, "automation", "apply", "-f", str(path)))


def test_examples_automations_yaml_validates() -> None:
    parsed = load_automation_file(EXAMPLES / "automations.yaml")
    assert isinstance(parsed, AutomationFile)
    by_name = {spec.name: spec for spec in parsed.automations}
    reminder = by_name["remind-me-after-an-hour"]
    assert reminder.trigger.after == 3600
    assert reminder.trigger.repeat is not None
    assert reminder.escalate
    assert by_name["failures-to-webhook"].actions[0].type == "webhook"
