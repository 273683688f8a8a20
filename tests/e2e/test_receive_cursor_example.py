"""examples/suspend_after_idle_cursor.py through a real suspend/resume cycle: names sent while
the run is suspended are greeted after the resume, and every name exactly once."""

from __future__ import annotations

from collections import Counter
from typing import Any

from inloop.client import get_client
from inloop.deployments import run_deployment
from inloop.flow_runs import resume_flow_run
from inloop.input.run_input import as_run_input
from inloop.schemas import StateType
from tests.e2e.processes import EXAMPLES
from tests.waiting import wait_for

IDLE_SECONDS = 2  # the example waits 30 s before suspending; the test need not


def read(run_id: Any) -> Any:
    return get_client().read_flow_run(run_id)


def suspended_at_new_key(run_id: Any, seen: set[str]) -> str:
    run = wait_for(lambda: (r := read(run_id)).state.type is StateType.SUSPENDED
                   and r.pause.key not in seen and r, 60)
    seen.add(run.pause.key)
    return str(run.pause.key)


def test_names_sent_while_suspended_are_each_greeted_once(server: Any, spawn: Any) -> None:
    source = (EXAMPLES / "suspend_after_idle_cursor.py").read_text()
    assert "timeout=30," in source
    runner = spawn(source.replace("timeout=30,", f"timeout={IDLE_SECONDS},"))
    runner.wait_for_output("is being served")

    # The greeter answers each name's sender: a run of the test's own, speaking with its token.
    sender_run = get_client().create_flow_run("name-sender")
    sender = get_client()
    sender.run_token = sender_run.run_token

    def send(name: str, to: Any) -> None:
        value = as_run_input(name)
        key = f"{type(value).key_prefix()}-{name.lower().strip('_')}"
        sender.create_flow_run_input(to, key, value.model_dump(mode="json"))

    def greetings() -> Counter[str]:
        found = get_client().read_flow_run_inputs(sender_run.id)
        return Counter(i.value["value"] for i in found if isinstance(i.value, dict))

    run = run_deployment("greeter/suspend-after-idle", timeout=0)
    keys: set[str] = set()
    send("ada", run.id)
    send("grace", run.id)
    suspended_at_new_key(run.id, keys)

    send("linus", run.id)  # while suspended: no process reads them now
    send("barbara", run.id)
    assert read(run.id).state.type is StateType.SUSPENDED
    resume_flow_run(run.id)
    suspended_at_new_key(run.id, keys)  # executed again, greeted the two, idled, suspended
    assert greetings()["Hello, barbara!"] == 1

    send("edsger", run.id)
    send("__EXIT__", run.id)
    resume_flow_run(run.id)
    wait_for(lambda: read(run.id).state.type is StateType.COMPLETED, 60)
    runner.wait_for_output("Goodbye!")

    names = ["ada", "grace", "linus", "barbara", "edsger"]
    assert greetings() == Counter({f"Hello, {name}!": 1 for name in names})
    assert runner.output.count("Goodbye!") == 1
    assert runner.stop() == 0
