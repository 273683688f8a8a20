"""`timeout_default_flows.py live|away|missing` serves one flow as `<flow>/defaults`: pauses and
suspends whose timeout resumes them with the input's defaults, or fails (a field without one).
"""

from typing import Any

from inloop import flow
from inloop.flow_runs import pause_flow_run, suspend_flow_run
from inloop.input import RunInput


class Review(RunInput):
    approved: bool = False
    note: str = "no answer in time"


class Person(RunInput):
    name: str
    age: int = 3


@flow
def live():
    answer = pause_flow_run(wait_for_input=Review, timeout=1, on_timeout="defaults")
    print(f"live answer approved={answer.approved} note={answer.note}", flush=True)


@flow
def away(timeout: float = 1):
    print("asking", flush=True)
    answer = suspend_flow_run(wait_for_input=Review, timeout=timeout, on_timeout="defaults")
    print(f"away answer approved={answer.approved} note={answer.note}", flush=True)


@flow
def missing():
    print("before", flush=True)
    pause_flow_run(wait_for_input=Person, timeout=60, on_timeout="defaults")


if __name__ == "__main__":
    import sys
    flows: dict[str, Any] = {"live": live, "away": away, "missing": missing}
    flows[sys.argv[1]].serve(name="defaults")
