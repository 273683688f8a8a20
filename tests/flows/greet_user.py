"""The seed's greeting example: an async flow pauses for a name and an age (the name prefilled
with "anonymous", a Markdown description), then logs a greeting. The flow's name comes from
FLOW_NAME; the test answers in the browser form.
"""

import asyncio
import os
from datetime import datetime

from inloop import flow, pause_flow_run
from inloop.input import RunInput
from inloop.logging import get_run_logger

FLOW_NAME = os.environ["FLOW_NAME"]


class UserInput(RunInput):
    name: str
    age: int


@flow(name=FLOW_NAME)
async def greet_user():
    logger = get_run_logger()
    current_date = datetime.now().strftime("%B %d, %Y")

    description_md = f"""
**Welcome to the User Greeting Flow!**
Today's Date: {current_date}

Please enter your details below:
- **Name**: What should we call you?
- **Age**: Just a number, nothing more.
"""

    user_input = await pause_flow_run(
        wait_for_input=UserInput.with_initial_data(description=description_md, name="anonymous"),
        timeout=300,
    )

    if user_input.name == "anonymous":
        logger.info("Hello, stranger!")
    else:
        logger.info(f"Hello, {user_input.name}!")


if __name__ == "__main__":
    asyncio.run(greet_user())
