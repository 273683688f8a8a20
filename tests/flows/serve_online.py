"""Serves the deployment `<FLOW_NAME>/online` (the flow returns 1), so the UI shows a runner
online for it.
"""

import os

from inloop import flow


@flow(name=os.environ["FLOW_NAME"])
def served():
    return 1


if __name__ == "__main__":
    served.serve(name="online")
