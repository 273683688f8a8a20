"""A flow that prints "working" and pauses for an int, until the CLI cancels its run.
"""

from inloop import flow, pause_flow_run


@flow(name="cancel-paused-sync")
def ask():
    print("working", flush=True)
    return pause_flow_run(wait_for_input=int)

ask()
