"""Pauses for an int ten times, logging `got <value>`; before pause i+1 it waits for the file
`go-<i>` in its working directory, written once the test's racing resumes were answered.
"""

import os
import time

from inloop import flow, get_run_logger, pause_flow_run


@flow
def many_pauses(rounds: int = 10):
    logger = get_run_logger()
    for i in range(1, rounds + 1):
        value = pause_flow_run(wait_for_input=int)
        logger.info(f"got {value}")
        # Pause again only once the test says both racing resumes were answered.
        while not os.path.exists(f"go-{i}"):
            time.sleep(0.01)

if __name__ == "__main__":
    many_pauses()
