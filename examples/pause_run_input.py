import asyncio

from inloop import flow
from inloop.flow_runs import pause_flow_run
from inloop.logging import get_run_logger
from inloop.input import RunInput

class UserInput(RunInput):
    name: str
    age: int
    
    # Imagine overridden methods here.
    def override_something(self, *args, **kwargs):
        super().override_something(*args, **kwargs)

@flow
async def greet_user():
    logger = get_run_logger()

    user = await pause_flow_run(wait_for_input=UserInput)

    logger.info(f"Hello, {user.name}!")


if __name__ == "__main__":
    asyncio.run(greet_user())
