"""Pauses at the key "gate" (no input), prints "past the gate", then pauses for a bool assigned
to group:finance without self-approval and prints `approved: <answer>`.
"""

from inloop import flow, pause_flow_run


@flow
def guarded():
    pause_flow_run(key="gate", timeout=120, poll_interval=0.2)
    print("past the gate", flush=True)
    approved = pause_flow_run(
        wait_for_input=bool, timeout=120, poll_interval=0.2,
        assignees=["group:finance"], allow_self_approval=False,
    )
    print(f"approved: {approved}", flush=True)


if __name__ == "__main__":
    guarded()
