"""Validate before resume: a real flow process paused with the seed's ShirtOrder judges each
resume with its own validators before the server commits it; and the seed's loop, without the
opt-in, records the answer it refused as a `flow-run.input-rejected` event too."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SHIRT = "get-shirt-order"
GREEN_MESSAGE = "Green is only in-stock for medium, large, and XL sizes."

FLOWS_DIR = Path(__file__).resolve().parents[1] / "flows"
FIELD_VALIDATOR_FLOW = FLOWS_DIR / "book_seats_with_row.py"


def start_paused(
    run_flow_script: Callable[..., subprocess.Popen[str]],
    wait_for: Callable[..., Any],
    api: httpx.Client,
    script: str | Path,
    flow_name: str,
) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    before = {r["id"] for r in api.get("/flow_runs", params={"flow_name": flow_name}).json()}
    process = run_flow_script(script)

    def paused() -> dict[str, Any] | None:
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"{script} exited ({process.returncode}) before pausing:\n{out}\n{err}")
        for run in api.get("/flow_runs", params={"flow_name": flow_name}).json():
            if run["id"] not in before and run["state"]["type"] == "PAUSED":
                return dict(run)
        return None

    return process, wait_for(paused)


def finish(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, f"exit {process.returncode}\n{out}\n{err}"
    return out + err


def resumptions(api: httpx.Client, run_id: str) -> list[dict[str, Any]]:
    found = api.get("/events", params={"kind": "flow-run.resumed", "flow_run_id": run_id})
    return sorted(found.json(), key=lambda event: event["id"])


def rejections(api: httpx.Client, run_id: str) -> list[dict[str, Any]]:
    params = {"kind": "flow-run.input-rejected", "flow_run_id": run_id}
    return list(api.get("/events", params=params).json())


def test_validator_refuses_small_green_and_the_run_stays_paused(
    api, run_flow_script, wait_for
) -> None:
    process, run = start_paused(
        run_flow_script, wait_for, api, EXAMPLES / "pause_shirt_order_validated.py", SHIRT
    )
    assert run["pause"]["validate_before_resume"] is True
    refused = api.post(
        f"/flow_runs/{run['id']}/resume", json={"run_input": {"size": "small", "color": "green"}}
    )
    assert refused.status_code == 422, refused.text
    # A model-level error sits on the whole answer (the form's top), in the flow's own words.
    assert refused.json()["detail"] == [
        {"loc": ["run_input"], "msg": GREEN_MESSAGE, "type": "value_error"}
    ]
    still = api.get(f"/flow_runs/{run['id']}").json()
    assert still["state"]["type"] == "PAUSED"
    assert still["pause"]["key"] == run["pause"]["key"] == "paused-1"
    assert still["state_seq"] == run["state_seq"]
    assert api.get(f"/flow_runs/{run['id']}/input/paused-1-response").status_code == 404
    [event] = rejections(api, run["id"])
    assert event["details"]["by"] == "flow"
    assert event["details"]["key"] == "paused-1"
    assert event["details"]["errors"] == [{"loc": ["run_input"], "type": "value_error"}]
    assert event["actor"]  # whoever submitted the answer, not the flow

    accepted = api.post(
        f"/flow_runs/{run['id']}/resume", json={"run_input": {"size": "medium", "color": "green"}}
    )
    assert accepted.status_code == 200, accepted.text
    output = finish(process)
    assert "Shirt order: medium, green" in output
    assert "Invalid size and color combination" not in output
    assert api.get(f"/flow_runs/{run['id']}").json()["state"]["type"] == "COMPLETED"
    assert len(rejections(api, run["id"])) == 1
    assert [e["details"]["flow_verdict"] for e in resumptions(api, run["id"])] == ["accepted"]


def test_field_validator_error_is_placed_on_its_field(api, run_flow_script, wait_for) -> None:
    process, run = start_paused(run_flow_script, wait_for, api, FIELD_VALIDATOR_FLOW, "book-seats")
    refused = api.post(f"/flow_runs/{run['id']}/resume", json={"run_input": {"count": 3}})
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"] == [
        {"loc": ["run_input", "count"], "msg": "seats come in pairs; 3 is odd",
         "type": "value_error"}
    ]
    # The answer is judged with the pause's defaults filled in, as the resume would store it.
    assert api.post(f"/flow_runs/{run['id']}/resume", json={"run_input": {"count": 4}}).is_success
    assert "booked 4 in row A" in finish(process)


def test_cli_prints_the_validators_message_and_exits_1(
    server, api, run_flow_script, wait_for
) -> None:
    process, run = start_paused(
        run_flow_script, wait_for, api, EXAMPLES / "pause_shirt_order_validated.py", SHIRT
    )
    result = subprocess.run(
        [sys.executable, "-m", "inloop", "flow-run", "resume", run["id"],
         "--input", json.dumps({"size": "small", "color": "green"})],
        env={**os.environ, **server.env, "COLUMNS": "200"},
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert GREEN_MESSAGE in result.stdout + result.stderr
    assert api.get(f"/flow_runs/{run['id']}").json()["state"]["type"] == "PAUSED"
    assert api.post(
        f"/flow_runs/{run['id']}/resume", json={"run_input": {"size": "large", "color": "red"}}
    ).is_success
    assert "Shirt order: large, red" in finish(process)


def test_seed_loop_without_opt_in_records_the_rejection(api, run_flow_script, wait_for) -> None:
    process, run = start_paused(
        run_flow_script, wait_for, api, EXAMPLES / "pause_shirt_order_loop.py", SHIRT
    )
    assert run["pause"]["validate_before_resume"] is False
    # Without the opt-in the server commits the answer, as in the seed ...
    assert api.post(
        f"/flow_runs/{run['id']}/resume", json={"run_input": {"size": "small", "color": "green"}}
    ).is_success

    def paused_again() -> dict[str, Any] | None:
        current = api.get(f"/flow_runs/{run['id']}").json()
        ok = current["state"]["type"] == "PAUSED" and current["pause"]["key"] == "paused-2"
        return dict(current) if ok else None

    wait_for(paused_again)
    # ... and the flow's refusal (it caught the ValidationError and asked again) is an event.
    [event] = wait_for(lambda: rejections(api, run["id"]) or None)
    assert event["details"]["by"] == "flow-after-resume"
    assert event["details"]["key"] == "paused-1"
    assert event["details"]["errors"] == [{"loc": ["run_input"], "type": "value_error"}]
    assert event["actor"]
    assert api.post(
        f"/flow_runs/{run['id']}/resume", json={"run_input": {"size": "medium", "color": "green"}}
    ).is_success
    assert "Shirt order: medium, green" in finish(process)


def test_a_frozen_process_falls_back_to_committing(
    server_factory, run_flow_script, wait_for
) -> None:
    # A short bound for the verdict, and a long heartbeat grace so the frozen process is not
    # taken for dead (that refuses the resume, a different story).
    target = server_factory(
        activate=True,
        INLOOP_VALIDATE_TIMEOUT_SECONDS="1",
        INLOOP_PAUSED_HEARTBEAT_GRACE_SECONDS="120",
    )
    with httpx.Client(base_url=target.api_url, timeout=60) as api:
        process, run = start_paused(
            run_flow_script, wait_for, api, EXAMPLES / "pause_shirt_order_validated.py", SHIRT
        )
        os.kill(process.pid, signal.SIGSTOP)
        try:
            resumed = api.post(
                f"/flow_runs/{run['id']}/resume",
                json={"run_input": {"size": "small", "color": "green"}},
            )
            # Nobody judged it in time: committed, exactly as without the opt-in.
            assert resumed.status_code == 200, resumed.text
            assert resumed.json()["state"]["type"] == "RUNNING"
            assert api.get(f"/flow_runs/{run['id']}/input/paused-1-response").is_success
        finally:
            os.kill(process.pid, signal.SIGCONT)

        # Thawed, the flow validates the answer itself (the seed's loop) and asks again.
        def paused_again() -> dict[str, Any] | None:
            current = api.get(f"/flow_runs/{run['id']}").json()
            ok = current["state"]["type"] == "PAUSED" and current["pause"]["key"] == "paused-2"
            return dict(current) if ok else None

        wait_for(paused_again)
        [event] = wait_for(lambda: rejections(api, run["id"]) or None)
        assert event["details"]["by"] == "flow-after-resume"
        assert api.post(
            f"/flow_runs/{run['id']}/resume",
            json={"run_input": {"size": "medium", "color": "green"}},
        ).is_success
        assert "Shirt order: medium, green" in finish(process)
        # The audit says which answer the flow judged and which went in unjudged.
        verdicts = [e["details"]["flow_verdict"] for e in resumptions(api, run["id"])]
        assert verdicts == ["no-answer", "accepted"]


def test_cli_prompts_show_the_refusal_and_ask_again(
    server, api, run_flow_script, wait_for
) -> None:
    # The same terminal driver as test_cli_resume's prompt tests.
    from tests.e2e.test_cli_resume import Terminal

    process, run = start_paused(
        run_flow_script, wait_for, api, EXAMPLES / "pause_shirt_order_validated.py", SHIRT
    )
    env = {**os.environ, **server.env, "TERM": "dumb", "COLUMNS": "160"}
    term = Terminal([sys.executable, "-m", "inloop", "flow-run", "resume", run["id"]], env)
    try:
        term.expect("Size (small/medium/large/xlarge): ")
        term.send("small")
        term.expect("Color (red/green/black): ")
        term.send("green")
        term.expect(f"✗ {GREEN_MESSAGE}")
        # Nothing names a field, so every field is asked again.
        term.expect("Size (small/medium/large/xlarge): ")
        term.send("medium")
        term.expect("Color (red/green/black): ")
        term.send("green")
        term.expect(f"Resumed flow run {run['name']}")
        assert term.finish() == 0, term.output
    finally:
        term.close()
    assert "Shirt order: medium, green" in finish(process)
