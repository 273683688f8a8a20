"""The seed's complete example and its suspend-after-idle greeter, run the way a user would."""

from __future__ import annotations

import subprocess
import threading
from typing import Any

import pytest

from inloop.blocks.system import JSON
from inloop.client import get_client
from inloop.deployments import run_deployment
from inloop.flow_runs import resume_flow_run
from inloop.input.run_input import receive_input, send_input
from inloop.schemas import StateType
from tests.e2e.processes import EXAMPLES
from tests.waiting import wait_for


def wait_state(run_id: Any, state: StateType, timeout: float = 20) -> Any:
    client = get_client()
    return wait_for(lambda: (r := client.read_flow_run(run_id)).state.type is state and r, timeout)


def test_greeter_and_sender_in_two_terminals(server: Any, spawn: Any) -> None:
    example = EXAMPLES / "greeter_complete.py"
    greeter = spawn(example, "greeter")
    greeter.wait_for_output("Your flow 'greeter' is being served and polling for scheduled runs!")
    assert "$ inloop deployment run 'greeter/send-receive'" in greeter.stdout

    sender = spawn(example, "sender", stdin=subprocess.PIPE)
    assert sender.popen.stdin is not None
    sender.popen.stdin.write("andrew\nq\n")
    sender.popen.stdin.close()
    assert sender.wait(60) == 0, sender.output
    assert "What is your name? " in sender.stdout
    assert "Hello, andrew!" in sender.stdout
    assert sender.stdout.rstrip().endswith("Goodbye!")
    assert "Created flow run" in sender.stderr and "for flow 'sender'" in sender.stderr
    assert "Traceback" not in sender.output

    greeter.wait_for_output("Goodbye!")
    runs = get_client().read_flow_runs(flow_name="greeter")
    greeter_run = wait_state(runs[0].id, StateType.COMPLETED)
    seen = JSON.load(f"{greeter_run.id}-seen-ids").value
    assert len(seen) == 1 and seen[0].startswith("str-auto-")
    assert greeter.stop() == 0
    assert "Traceback" not in greeter.output


def test_suspend_after_idle_then_resume_answers_only_new_input(
    server: Any, spawn: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Waits out the example's 30 s idle timeout once, as the seed's text says it should."""
    greeter = spawn(EXAMPLES / "suspend_after_idle.py")
    greeter.wait_for_output("is being served")
    client = get_client()
    # Stands in for the sender's flow run: replies to inputs it sends come back here.
    me = client.create_flow_run("idle-sender")
    # Speak as that run, as its own process would: the server stamps the sender from its token.
    monkeypatch.setenv("INLOOP_RUN_TOKEN", me.run_token)
    # ...and beat for it, as its process would, or the server calls it crashed during the idle
    # period and refuses the replies meant for it.
    done = threading.Event()

    def beat() -> None:
        while not done.wait(1):
            client.heartbeat([me.id])

    threading.Thread(target=beat, daemon=True).start()
    replies = receive_input(str, timeout=20, flow_run_id=me.id)

    run = run_deployment("greeter/suspend-after-idle", timeout=0)
    for name in ("alice", "bob"):
        send_input(name, flow_run_id=run.id)
        assert replies.next() == f"Hello, {name}!"

    suspended = wait_state(run.id, StateType.SUSPENDED, timeout=60)
    assert suspended.pause is not None and suspended.pause.reschedule
    greeter.wait_for_output("Suspending greeter after 30 seconds of idle time")
    greeter.wait_for_output("exited cleanly (Suspended)")
    seen = JSON.load(f"{run.id}-seen-ids").value
    assert len(seen) == 2

    resume_flow_run(run.id)
    wait_state(run.id, StateType.RUNNING)
    send_input("carol", flow_run_id=run.id)
    assert replies.next() == "Hello, carol!"
    send_input("__EXIT__", flow_run_id=run.id)
    wait_state(run.id, StateType.COMPLETED)
    greeter.wait_for_output("Goodbye!")

    # alice and bob were answered once, before the suspension; carol once, after it.
    answers = [i.value for i in client.read_flow_run_inputs(me.id)]
    texts = sorted(a["value"] if isinstance(a, dict) else a for a in answers)
    assert texts == ["Hello, alice!", "Hello, bob!", "Hello, carol!"]
    assert len(JSON.load(f"{run.id}-seen-ids").value) == 3
    done.set()
    assert greeter.stop() == 0
