"""Run tokens end to end: real flow runs (in subprocesses and under a runner) send inputs, and
the server stamps each input's sender from the sending run's token, whatever the code claims.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inloop import flow, get_client, get_run_context
from inloop.deployments import run_deployment
from inloop.flow_runs import resume_flow_run
from inloop.input.run_input import receive_input, send_input
from inloop.schemas import StateType
from tests.waiting import wait_for

SENDER = "inloop.flow-run."


FLOWS_DIR = Path(__file__).resolve().parents[1] / "flows"
RESPONDER = FLOWS_DIR / "respond_as_bystander.py"


@flow
def asker(responder_id: str, victim_id: str) -> tuple[str, str, str]:
    """Send as if we were the bystander; the reply must still come back to us."""
    send_input("ping", flow_run_id=responder_id, sender=f"{SENDER}{victim_id}")
    reply = next(iter(receive_input(str, timeout=30, poll_interval=0.1, with_metadata=True)))
    return str(get_run_context().flow_run.id), reply.value, str(reply.metadata.sender)


def test_respond_answers_the_real_sender_whatever_either_side_claims(
    server: Any, spawn: Any
) -> None:
    client = get_client()
    victim = client.create_flow_run("bystander")
    responder_proc = spawn(RESPONDER, str(victim.id))
    responder_proc.wait_for_output("listening")
    responder_run = wait_for(
        lambda: next(iter(client.read_flow_runs(flow_name="responder", state="RUNNING")), None)
    )

    asker_id, reply, reply_sender = asker(str(responder_run.id), str(victim.id))

    assert reply == "echo ping"
    assert reply_sender == f"{SENDER}{responder_run.id}"
    received = client.read_flow_run_inputs(responder_run.id)
    assert [i.sender for i in received if i.value == {"value": "ping"}] == [f"{SENDER}{asker_id}"]
    assert client.read_flow_run_inputs(victim.id) == []
    assert responder_proc.wait() == 0, responder_proc.output


REPORTER = FLOWS_DIR / "report_across_suspend.py"


def test_runner_processes_send_as_their_run_before_and_after_a_suspension(
    server: Any, spawn: Any
) -> None:
    client = get_client()
    target = client.create_flow_run("report-target")
    runner = spawn(REPORTER)
    runner.wait_for_output("is being served")
    run = run_deployment("reporter/tokens", {"target": str(target.id)}, timeout=0)
    wait_for(lambda: client.read_flow_run(run.id).state.type is StateType.SUSPENDED)
    resume_flow_run(run.id)
    done = wait_for(lambda: (r := client.read_flow_run(run.id)).state.is_final() and r)
    assert done.state.type is StateType.COMPLETED, runner.output
    runner.wait_for_output("reported")

    sent = client.read_flow_run_inputs(target.id)
    values = sorted(i.value["value"] for i in sent)
    # Executed twice from the top (claimed twice, a token each time), then the child's.
    assert values == sorted(
        ["before suspending", "before suspending", "after resuming", "from a child process"]
    )
    assert {i.sender for i in sent} == {f"{SENDER}{run.id}"}
    assert runner.stop() == 0
