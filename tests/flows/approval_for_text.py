"""Prints "pausing", pauses for a str and prints `approved: <answer>`; an operator resumes it.
"""

from inloop import flow, pause_flow_run


@flow
def approval():
    print("pausing", flush=True)
    answer = pause_flow_run(wait_for_input=str, timeout=120, poll_interval=0.2)
    print(f"approved: {answer}", flush=True)
    return answer


approval()
