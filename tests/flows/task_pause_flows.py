"""`task_pause_flows.py sync|async` serves `sync-flow/task-pauses` or `async-flow/task-pauses`,
whose tasks pause and suspend for input.
"""

from inloop import flow, task
from inloop.flow_runs import pause_flow_run, suspend_flow_run
from inloop.input import RunInput


class Approval(RunInput):
    approved: bool


@task
def approve(amount: int) -> bool:
    print(f"asking about {amount}", flush=True)
    return pause_flow_run(wait_for_input=Approval, timeout=600).approved


@task
async def approve_async(amount: int) -> bool:
    print(f"async asking about {amount}", flush=True)
    answer = await pause_flow_run(wait_for_input=Approval, timeout=600)
    return answer.approved


@task
def gate(amount: int) -> bool:
    print(f"gate {amount}", flush=True)
    return suspend_flow_run(wait_for_input=bool, timeout=600)


@flow
def sync_flow():
    first = approve(1)
    second = gate(2)
    third = pause_flow_run(wait_for_input=str, timeout=600)
    print(f"sync result {first} {second} {third}", flush=True)


@flow
async def async_flow():
    first = await approve_async(1)
    second = approve(2)  # a sync task inside an async flow
    print(f"async result {first} {second}", flush=True)


if __name__ == "__main__":
    import sys
    flows = {"sync": sync_flow, "async": async_flow}
    flows[sys.argv[1]].serve(name="task-pauses")
