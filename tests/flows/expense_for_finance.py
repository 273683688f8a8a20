"""Pauses for a bool assigned to group:finance without self-approval and prints
`expense <label>: <answer>`. Run with `serve` it serves the deployment `expense/rules`.
"""

from inloop import flow, pause_flow_run


@flow
def expense(label: str = "taxi"):
    print("pausing", flush=True)
    approved = pause_flow_run(
        wait_for_input=bool, timeout=120, poll_interval=0.2,
        assignees=["group:finance"], allow_self_approval=False,
    )
    print(f"expense {label}: {approved}", flush=True)


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["serve"]:
        expense.serve(name="rules")
    else:
        expense()
