import asyncio

from inloop import flow
from inloop.input.run_input import receive_input


@flow
async def greeter():
    async for name_input in receive_input(
        str,
        with_metadata=True,
        timeout=None
    ):
        await name_input.respond(f"Hello, {name_input.value}!")


if __name__ == "__main__":
    asyncio.run(greeter())
