"""The flow "book-seats" pauses for an even seat count (and a row, default "A") with
validate_before_resume=True, then prints `booked <count> in row <row>`.
"""

import pydantic

from inloop import flow, pause_flow_run
from inloop.input import RunInput


class Seats(RunInput):
    count: int
    row: str = "A"

    @pydantic.field_validator("count")
    @classmethod
    def even(cls, value):
        if value % 2:
            raise ValueError(f"seats come in pairs; {value} is odd")
        return value


@flow(name="book-seats")
def book_seats():
    seats = pause_flow_run(wait_for_input=Seats, validate_before_resume=True)
    print(f"booked {seats.count} in row {seats.row}")


if __name__ == "__main__":
    book_seats()
