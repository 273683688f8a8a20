"""The flow "creds-busy" prints "working" and sleeps forever: the test cancels its run and the
process must hear of it through its heartbeat.
"""

import time

from inloop import flow


@flow(name="creds-busy")
def busy():
    print("working", flush=True)
    while True:
        time.sleep(0.2)

if __name__ == "__main__":
    busy()
