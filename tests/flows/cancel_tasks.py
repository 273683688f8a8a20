"""A flow that prints "working" and runs 0.1 s tasks one after another, until the CLI cancels
its run.
"""

import time

from inloop import flow, task


@task
def step(i: int) -> int:
    time.sleep(0.1)
    return i

@flow(name="cancel-tasks")
def steps():
    print("working", flush=True)
    for i in range(100_000):
        step(i)

steps()
