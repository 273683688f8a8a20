"""An async flow that pauses for an int until interrupted (asyncio cancels it); the test reads
what the console says.
"""

import asyncio

from inloop import flow
from inloop.flow_runs import pause_flow_run


@flow(name="first-hour-pause-async")
async def ask():
    return await pause_flow_run(wait_for_input=int)

asyncio.run(ask())
