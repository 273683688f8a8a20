"""`inloop inbox`: every run waiting for a person, oldest first."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from inloop.cli._output import console, first_line, relative, state_text

if TYPE_CHECKING:
    from inloop.schemas import InboxItem

__all__ = ["inbox"]


def inbox(
    limit: Annotated[
        int, typer.Option(min=1, max=1000, metavar="N", help="How many runs to show.")
    ] = 50,
) -> None:
    """List every paused or suspended run waiting for input, oldest first."""
    from inloop.client import get_client

    items: list[InboxItem] = get_client().read_inbox(limit=limit)
    if not items:
        console().print("[dim]Nothing is waiting for you.[/]")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("Flow", no_wrap=True)
    table.add_column("Run", no_wrap=True)
    table.add_column("ID", no_wrap=True, style="dim")
    table.add_column("State", no_wrap=True)
    table.add_column("Waiting since", no_wrap=True)
    table.add_column("Deadline", no_wrap=True)
    table.add_column("Asks")
    table.add_column("Resume with", no_wrap=True)
    for item in items:
        run = item.flow_run
        table.add_row(
            run.flow_name,
            run.name,
            str(run.id),
            state_text(run.state),
            relative(item.waiting_since),
            relative(item.deadline) if item.deadline else "none",
            Text(first_line(item.description_first_line or "")),
            f"inloop flow-run resume {run.id}",
        )
    console().print(table)
