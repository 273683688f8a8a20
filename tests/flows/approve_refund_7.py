"""Pauses for an Approval (one bool) described as "Approve **refund #7**?", then logs
`approved=<answer>`. The flow's name comes from FLOW_NAME; the test resumes it from the link
in an automation's email.
"""

import os

from inloop import flow, get_run_logger, pause_flow_run
from inloop.input import RunInput

FLOW_NAME = os.environ["FLOW_NAME"]


class Approval(RunInput):
    approved: bool


@flow(name=FLOW_NAME)
def approve():
    answer = pause_flow_run(
        wait_for_input=Approval.with_initial_data(description="Approve **refund #7**?"),
        timeout=300,
    )
    get_run_logger().info(f"approved={answer.approved}")


if __name__ == "__main__":
    approve()
