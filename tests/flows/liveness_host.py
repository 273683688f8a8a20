"""`liveness_host.py paused|running COUNT DONE_FILE`: runs COUNT flows in threads, each paused
for an int (flow "liveness-paused", or PAUSED_FLOW_NAME) or running until DONE_FILE exists
(flow "liveness-running").
"""

import os
import sys
import threading
import time

from inloop import flow, pause_flow_run


@flow(name=os.environ.get("PAUSED_FLOW_NAME", "liveness-paused"))
def waits(i: int) -> int:
    return pause_flow_run(wait_for_input=int, timeout=3600)

@flow(name="liveness-running")
def works(i: int) -> int:
    while not os.path.exists(sys.argv[3]):
        time.sleep(0.2)
    return i

kind, count = sys.argv[1], int(sys.argv[2])
fn = waits if kind == "paused" else works
threads = [threading.Thread(target=fn, args=(i,)) for i in range(count)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
