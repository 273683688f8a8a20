"""`wake_flows.py FLOW`: pauses in one of several shapes (sync, async, nested, in a task, no
input) and prints `WOKE <time>` as soon as it is resumed.
"""

import asyncio
import sys
import time

from inloop import flow, get_run_logger, pause_flow_run, task


def ask_name_sync():
    # A plain function called by a sync flow.
    return pause_flow_run(wait_for_input=str)


async def ask_name_async():
    return await pause_flow_run(wait_for_input=str)


@task
def ask_name_in_task():
    return pause_flow_run(wait_for_input=str)


@task
async def ask_name_in_async_task():
    return await pause_flow_run(wait_for_input=str)


def woke(name):
    print(f"WOKE {time.time():.6f}", flush=True)
    get_run_logger().info(f"Hello, {name}!")


@flow
def wake_sync():
    woke(pause_flow_run(wait_for_input=str))


@flow
async def wake_async():
    woke(await pause_flow_run(wait_for_input=str))


@flow
def wake_nested():
    woke(ask_name_sync())


@flow
async def wake_async_nested():
    woke(await ask_name_async())


@flow
def wake_task():
    woke(ask_name_in_task())


@flow
async def wake_async_task():
    woke(await ask_name_in_async_task())


@flow
def wake_no_input():
    print(f"returned {pause_flow_run()!r}", flush=True)
    woke("nobody")


if __name__ == "__main__":
    chosen = globals()[sys.argv[1]]
    if chosen.is_async:
        asyncio.run(chosen())
    else:
        chosen()
