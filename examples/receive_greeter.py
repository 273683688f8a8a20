import asyncio

from inloop import flow
from inloop.input.run_input import receive_input


@flow
async def greeter_flow():
    async for name_input in receive_input(str, timeout=None):
        # Prints "Hello, andrew!" if another flow sent "andrew"
        print(f"Hello, {name_input}!")


if __name__ == "__main__":
    asyncio.run(greeter_flow())
