"""`inloop inbox`: what waits for you (on a server with users) or for anyone, oldest first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from inloop.cli._output import console, first_line, relative, state_text

if TYPE_CHECKING:
    from inloop.schemas import InboxItem

__all__ = ["inbox"]


def _deadline(item: InboxItem) -> str:
    """When the wait ends, and what then happens if the pause chose its defaults."""
    if item.deadline is None:
        return "none"
    pause = item.flow_run.pause
    then = ", then defaults" if pause is not None and pause.on_timeout == "defaults" else ""
    return relative(item.deadline) + then


def assigned_to(assignees: Sequence[str], me: str | None, my_groups: Sequence[str]) -> Text:
    """The assignees, with the caller (and the caller's groups) marked "you"."""
    if not assignees:
        return Text("anyone who may resume", style="dim")
    shown = Text()
    for index, assignee in enumerate(assignees):
        if index:
            shown.append(", ")
        if assignee == me:
            shown.append("you", style="bold green")
        elif assignee.startswith("group:") and assignee[len("group:"):] in my_groups:
            shown.append(f"{assignee} (you)", style="bold green")
        else:
            shown.append(assignee)
    return shown


def inbox(
    limit: Annotated[
        int, typer.Option(min=1, max=1000, metavar="N", help="How many runs to show.")
    ] = 50,
    show_all: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Operators and admins: every waiting run, also those you may not answer.",
        ),
    ] = False,
) -> None:
    """List paused or suspended runs waiting for input, oldest first: on a server with users,
    those you may answer."""
    from inloop.client import get_client

    client = get_client()
    items: list[InboxItem] = client.read_inbox(limit=limit, all_waiting=show_all)
    if not items:
        console().print("[dim]Nothing is waiting for you.[/]")
        return
    session = client.read_session()
    me = session.actor if session.kind == "user" else None
    groups = list(session.groups)
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("Flow", no_wrap=True)
    table.add_column("Run", no_wrap=True)
    table.add_column("ID", no_wrap=True, style="dim")
    table.add_column("State", no_wrap=True)
    table.add_column("Waiting since", no_wrap=True)
    table.add_column("Deadline", no_wrap=True)
    table.add_column("Assigned to")
    table.add_column("Asks")
    table.add_column("Resume with", no_wrap=True)
    for item in items:
        run = item.flow_run
        assignees = run.pause.assignees if run.pause else []
        table.add_row(
            run.flow_name,
            run.name,
            str(run.id),
            state_text(run.state),
            relative(item.waiting_since),
            _deadline(item),
            assigned_to(assignees, me, groups),
            Text(first_line(item.description_first_line or "")),
            f"inloop flow-run resume {run.id}"
            if item.can_answer
            else Text("not yours to answer", style="dim"),
        )
    console().print(table)
