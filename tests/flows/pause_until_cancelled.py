"""Pauses without input for up to 600 s; the test cancels the run from the UI. The flow's name
comes from FLOW_NAME.
"""

import os

from inloop import flow, pause_flow_run


@flow(name=os.environ["FLOW_NAME"])
def wait_for_someone():
    pause_flow_run(timeout=600)


if __name__ == "__main__":
    wait_for_someone()
