"""A sync flow that pauses for an int until Ctrl-C; the test interrupts it and reads what the
console says.
"""

from inloop import flow
from inloop.flow_runs import pause_flow_run


@flow(name="first-hour-pause")
def ask():
    return pause_flow_run(wait_for_input=int)

ask()
