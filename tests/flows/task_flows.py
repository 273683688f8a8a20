"""`task_flows.py sync|async|bad` serves one flow as `<flow>/tasks`. Tasks append what they ran
to the file TASK_LOG, so the test sees which ones were replayed from their results after a
suspend.
"""

import os
import sys
from datetime import date
from pathlib import Path
from typing import Any

from inloop import flow, task
from inloop.flow_runs import suspend_flow_run

LOG = Path(os.environ["TASK_LOG"])


def record(what):
    with LOG.open("a") as f:
        f.write(what + "\n")


@task
def add(a: int, b: int) -> int:
    record(f"add {a} {b}")
    return a + b


@task
def today(offset: int) -> date:
    record("today")
    return date(2024, 1, 1 + offset)


@task(name="Fetch Thing")
async def fetch(key: str) -> dict:
    record(f"fetch {key}")
    return {"key": key}


@task
def opaque():
    return object()


@flow
def sync_flow(x: int):
    first = add(x, 1)
    again = add(x, 1)
    day = today(1)
    decision = suspend_flow_run(wait_for_input=str, timeout=600)
    third = add(first, again)
    print(f"result {first} {again} {third} {day!r} {decision}")
    return third


@flow
async def async_flow(key: str):
    got = await fetch(key)
    answer = await suspend_flow_run(wait_for_input=int, timeout=600)
    print(f"async result {got} {answer}")


@flow
def bad_flow():
    opaque()


if __name__ == "__main__":
    flows: dict[str, Any] = {"sync": sync_flow, "async": async_flow, "bad": bad_flow}
    flows[sys.argv[1]].serve(name="tasks")
