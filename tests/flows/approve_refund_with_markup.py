"""Pauses for an Approval (bool and note) whose description carries a <script> and an <img
onerror>, then logs `approved=... note=...`. The flow's name comes from FLOW_NAME; the test
resumes it through a resume link and checks the markup never runs.
"""

import os

from inloop import flow, get_run_logger, pause_flow_run
from inloop.input import RunInput

FLOW_NAME = os.environ["FLOW_NAME"]


class Approval(RunInput):
    approved: bool
    note: str = ""


DESCRIPTION = """**Refund #42** for 30 EUR

<script>window.__injected = true</script><img src=x onerror="window.__injected = true">
"""


@flow(name=FLOW_NAME)
def approve():
    answer = pause_flow_run(
        wait_for_input=Approval.with_initial_data(description=DESCRIPTION), timeout=300
    )
    get_run_logger().info(f"approved={answer.approved} note={answer.note}")


if __name__ == "__main__":
    approve()
