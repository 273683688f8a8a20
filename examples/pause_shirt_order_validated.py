"""The seed's ShirtOrder, validated before the resume commits (an inloop opt-in).

Resuming with size small and color green is refused at once (HTTP 422, the form shows the
validator's message, `inloop flow-run resume` prints it and exits 1) and the run stays paused.
The loop stays as in the seed: if the flow's process cannot answer in time, the resume goes
ahead and the flow validates the answer itself, then asks again.
"""

from typing import Literal

import pydantic
from inloop import flow
from inloop.flow_runs import pause_flow_run
from inloop.logging import get_run_logger
from inloop.input import RunInput


class ShirtOrder(RunInput):
    size: Literal["small", "medium", "large", "xlarge"]
    color: Literal["red", "green", "black"]

    @pydantic.model_validator(mode="after")
    def validate_age(self):
        if self.color == "green" and self.size == "small":
            raise ValueError(
                "Green is only in-stock for medium, large, and XL sizes."
            )

        return self


@flow
def get_shirt_order():
    logger = get_run_logger()
    shirt_order = None

    while shirt_order is None:
        try:
            shirt_order = pause_flow_run(
                wait_for_input=ShirtOrder, validate_before_resume=True
            )
        except pydantic.ValidationError as exc:
            logger.error(f"Invalid size and color combination: {exc}")

    logger.info(
        f"Shirt order: {shirt_order.size}, {shirt_order.color}"
    )


if __name__ == "__main__":
    get_shirt_order()
