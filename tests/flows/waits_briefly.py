"""`waits_briefly.py TIMEOUT`: pauses for an int for TIMEOUT seconds, then logs `got <value>`.
"""

import sys

from inloop import flow, get_run_logger, pause_flow_run


@flow
def waits_briefly(timeout: float):
    value = pause_flow_run(wait_for_input=int, timeout=timeout)
    get_run_logger().info(f"got {value}")

if __name__ == "__main__":
    waits_briefly(float(sys.argv[1]))
