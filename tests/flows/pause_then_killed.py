"""Prints "pausing" and pauses for a str; the test kills the process. The flow's name is
"paused-then-killed", or FLOW_NAME.
"""

import os

from inloop import flow, pause_flow_run


@flow(name=os.environ.get("FLOW_NAME", "paused-then-killed"))
def waits():
    print("pausing", flush=True)
    return pause_flow_run(wait_for_input=str, timeout=600)

waits()
