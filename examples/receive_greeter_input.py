import asyncio

from inloop import flow
from inloop.input.run_input import RunInput, receive_input


class GreeterInput(RunInput):
    value: str

@flow
async def greeter_flow():
    async for name_input in receive_input(GreeterInput, timeout=None):
        print(f"Hello, {name_input.value}!")


if __name__ == "__main__":
    asyncio.run(greeter_flow())
