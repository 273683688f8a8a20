"""Serves `reporter/tokens`: sends input to a target run before suspending, after resuming, and
from a child process, each time speaking as its own run.
"""

import subprocess
import sys

from inloop import flow
from inloop.flow_runs import suspend_flow_run
from inloop.input.run_input import send_input

CHILD = """
import sys
from inloop.input.run_input import send_input
send_input("from a child process", flow_run_id=sys.argv[1])
"""


@flow
def reporter(target: str):
    send_input("before suspending", flow_run_id=target)
    suspend_flow_run(timeout=600)
    send_input("after resuming", flow_run_id=target)
    # A process the flow starts speaks as the run too (INLOOP_RUN_TOKEN is inherited).
    subprocess.run([sys.executable, "-c", CHILD, target], check=True)
    print("reported", flush=True)


if __name__ == "__main__":
    reporter.serve(name="tokens")
