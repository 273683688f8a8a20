"""`suspend_flows.py approval|listener|pauser` serves one flow as `<flow>/suspend`: suspends for
a bool, receives words until "stop", or pauses for a str.
"""

from typing import Any

from inloop import flow
from inloop.flow_runs import pause_flow_run, suspend_flow_run
from inloop.input.run_input import receive_input


@flow
def approval(amount: int):
    print(f"asking about {amount}")
    approved = suspend_flow_run(wait_for_input=bool, timeout=600)
    print(f"approved={approved}")
    return approved


@flow
def listener():
    print("listening")
    for word in receive_input(str, timeout=None):
        print(f"heard {word}")
        if word == "stop":
            return


@flow
def pauser():
    print("pausing")
    print("answer", pause_flow_run(wait_for_input=str, timeout=600))


if __name__ == "__main__":
    import sys
    flows: dict[str, Any] = {"approval": approval, "listener": listener, "pauser": pauser}
    flows[sys.argv[1]].serve(name="suspend")
