"""An async flow that prints "working" and sleeps forever, until the CLI cancels its run.
"""

import asyncio

from inloop import flow


@flow(name="cancel-running-async")
async def busy():
    print("working", flush=True)
    while True:
        await asyncio.sleep(0.2)

asyncio.run(busy())
