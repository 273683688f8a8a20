"""Serves the deployment `gated/identity`: each run pauses for a str and prints
`gated <label>: <answer>`.
"""

from inloop import flow, pause_flow_run


@flow
def gated(label: str):
    answer = pause_flow_run(wait_for_input=str, timeout=120, poll_interval=0.2)
    print(f"gated {label}: {answer}", flush=True)
    return answer


if __name__ == "__main__":
    gated.serve(name="identity")
