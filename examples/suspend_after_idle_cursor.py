"""The seed's "suspend after idle" greeter, with the receive position kept by the server.

`cursor="greeter-names"` stores, for this run, the last name the flow finished with. When the run
is resumed and executed again from the top, receive_input goes on after that name: no JSON block
of seen keys, no exclude_keys.
"""

import asyncio

from inloop import flow
from inloop.flow_runs import suspend_flow_run
from inloop.input.run_input import receive_input
from inloop.logging import get_run_logger

EXIT_SIGNAL = "__EXIT__"


@flow
async def greeter():
    logger = get_run_logger()
    try:
        async for name_input in receive_input(
            str,
            with_metadata=True,
            poll_interval=0.1,
            timeout=30,
            cursor="greeter-names",
        ):
            if name_input.value == EXIT_SIGNAL:
                print("Goodbye!")
                return
            await name_input.respond(f"Hello, {name_input.value}!")
    except TimeoutError:
        logger.info("Suspending greeter after 30 seconds of idle time")
        await suspend_flow_run(timeout=10000)


if __name__ == "__main__":
    asyncio.run(greeter.serve(name="suspend-after-idle"))
