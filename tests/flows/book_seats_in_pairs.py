"""Pauses for a seat count that a field validator wants even, with validate_before_resume=True,
then prints `booked <count>`. The flow's name comes from FLOW_NAME.
"""

import os

import pydantic

from inloop import flow, pause_flow_run
from inloop.input import RunInput

FLOW_NAME = os.environ["FLOW_NAME"]


class Seats(RunInput):
    count: int

    @pydantic.field_validator("count")
    @classmethod
    def even(cls, value):
        if value % 2:
            raise ValueError(f"seats come in pairs; {value} is odd")
        return value


@flow(name=FLOW_NAME)
def book_seats():
    seats = pause_flow_run(wait_for_input=Seats, timeout=300, validate_before_resume=True)
    print(f"booked {seats.count}")


if __name__ == "__main__":
    book_seats()
