"""Serves the deployment `liveness-served/soak`, whose runs run until killed.
"""

import time

from inloop import flow


@flow(name="liveness-served")
def served() -> None:
    while True:
        time.sleep(0.2)

if __name__ == "__main__":
    served.serve(name="soak")
