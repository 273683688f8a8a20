"""A flow named by FLOW_NAME (underscores become hyphens, as for a function's name) that prints
"pausing", pauses for a str and prints `<FLOW_NAME> got <answer>`. Run with `serve` it serves
the deployment `<flow name>/switch`.
"""

import os
import sys

from inloop import flow, pause_flow_run

NAME = os.environ["FLOW_NAME"]


@flow(name=NAME.replace("_", "-"))
def pausing(label: str = "x"):
    print("pausing", flush=True)
    answer = pause_flow_run(wait_for_input=str, timeout=300, poll_interval=0.2)
    print(f"{NAME} got {answer}", flush=True)
    return answer


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        pausing.serve(name="switch")
    else:
        pausing()
