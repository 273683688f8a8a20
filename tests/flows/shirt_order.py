"""The seed's shirt-order example: pauses for a size and colour, and pauses again (logging the
error) while the model validator refuses small green shirts. The flow's name comes from
FLOW_NAME. With VALIDATE_BEFORE_RESUME=1 the server refuses small green shirts in the form
itself (validate_before_resume=True), so the flow pauses once.
"""

import os
from typing import Literal

import pydantic

from inloop import flow
from inloop.flow_runs import pause_flow_run
from inloop.input import RunInput
from inloop.logging import get_run_logger

FLOW_NAME = os.environ["FLOW_NAME"]
VALIDATE = os.environ.get("VALIDATE_BEFORE_RESUME") == "1"


class ShirtOrder(RunInput):
    size: Literal["small", "medium", "large", "xlarge"]
    color: Literal["red", "green", "black"]

    @pydantic.model_validator(mode="after")
    def validate_age(self):
        if self.color == "green" and self.size == "small":
            raise ValueError("Green is only in-stock for medium, large, and XL sizes.")
        return self


@flow(name=FLOW_NAME)
def get_shirt_order():
    logger = get_run_logger()
    shirt_order = None

    while shirt_order is None:
        try:
            shirt_order = pause_flow_run(
                wait_for_input=ShirtOrder, timeout=300, validate_before_resume=VALIDATE
            )
        except pydantic.ValidationError as exc:
            logger.error(f"Invalid size and color combination: {exc}")

    logger.info(f"Shirt order: {shirt_order.size}, {shirt_order.color}")


if __name__ == "__main__":
    get_shirt_order()
