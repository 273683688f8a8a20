"""A sync flow that prints "working" and sleeps forever, until the CLI cancels its run.
"""

import time

from inloop import flow


@flow(name="cancel-running-sync")
def busy():
    print("working", flush=True)
    while True:
        time.sleep(0.2)

busy()
