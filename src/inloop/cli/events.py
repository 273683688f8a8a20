"""`inloop events`: the audit trail, newest last, optionally followed as it grows; and
`inloop events export`, every event (or every one since a time) as JSON lines or CSV."""

from __future__ import annotations

import contextlib
import csv
import json
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TextIO

import typer
from rich.table import Table
from rich.text import Text

from inloop.cli._output import UserError, _aware, console, err_console

if TYPE_CHECKING:
    from inloop.client import InloopClient
    from inloop.schemas import Event

__all__ = ["app", "events", "export", "parse_since"]

app = typer.Typer(invoke_without_command=True)

POLL_SECONDS = 30.0
PAGE = 1000
_AGO = re.compile(r"^(\d+)\s*([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """`10m`, `2h`, `3d`, `30s` ago, or an ISO 8601 time (UTC if it has no offset)."""
    text = value.strip()
    ago = _AGO.fullmatch(text.lower())
    if ago:
        amount, unit = int(ago.group(1)), ago.group(2)
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: amount})
    try:
        return _aware(datetime.fromisoformat(text))
    except ValueError:
        raise UserError(
            f"--since {value!r} is neither a duration (10m, 2h, 3d) nor an ISO time "
            "(2025-01-31T09:00)"
        ) from None


def _detail(event: Event) -> str:
    details = event.details
    parts = []
    if "from" in details and "to" in details:
        parts.append(f"{details['from'].lower()} → {details['to'].lower()}")
    named = ("key", "sender", "bytes", "flow", "deployment", "user", "role", "method", "reason")
    for name in named:
        if details.get(name) is not None:
            parts.append(f"{name} {details[name]}")
    if details.get("errors"):
        fields = ", ".join(".".join(e["loc"][1:]) or "(input)" for e in details["errors"])
        parts.append(f"invalid: {fields}")
    if details.get("message"):
        parts.append(str(details["message"]))
    return "; ".join(parts)


def _table(found: list[Event], header: bool) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False, show_header=header)
    table.add_column("Time", no_wrap=True)
    table.add_column("Kind", no_wrap=True)
    table.add_column("Actor", no_wrap=True)
    table.add_column("Run", no_wrap=True)
    table.add_column("Detail")
    for event in found:
        local = _aware(event.occurred).astimezone()
        run = event.flow_run_name or ""
        if event.flow_run_id:
            run = f"{run} ({event.flow_run_id[:8]})" if run else event.flow_run_id
        table.add_row(
            f"{local:%Y-%m-%d %H:%M:%S}",
            event.kind,
            Text(event.actor or "-"),
            Text(run or "-"),
            Text(_detail(event)),
        )
    return table


def _follow(client: InloopClient, filters: dict[str, Any], after_id: int) -> None:
    while True:
        found: list[Event] = client.read_events(
            **filters, after_id=after_id, limit=PAGE, wait=POLL_SECONDS
        )
        if found:
            console().print(_table(found, header=False))
            after_id = found[-1].id


@app.callback()
def events(
    ctx: typer.Context,
    run: Annotated[
        str | None,
        typer.Option(
            "--run", metavar="RUN", help="Only this run's events (its id, name or id prefix)."
        ),
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option(
            metavar="PREFIX", help="Only kinds starting so: flow-run.paused, flow-run., ..."
        ),
    ] = None,
    actor: Annotated[
        str | None, typer.Option(metavar="ACTOR", help="Only what this actor did (local:ada).")
    ] = None,
    since: Annotated[
        str | None, typer.Option(metavar="WHEN", help="From this time: 10m, 2h, 3d or ISO 8601.")
    ] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=1000, metavar="N", help="How many of the latest to show.")
    ] = 50,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events as they happen.")
    ] = False,
) -> None:
    """Show what happened, who did it and to which run: state changes, inputs, resumes.

    `inloop events export` writes every event out, as JSON lines or CSV.
    """
    if ctx.invoked_subcommand is not None:
        return
    from inloop.cli.flow_runs import resolve_run_id
    from inloop.client import get_client

    client = get_client()
    filters: dict[str, Any] = {"kind": kind, "actor": actor}
    if run is not None:
        filters["flow_run_id"] = resolve_run_id(client, run)
    if since is not None:
        filters["since"] = parse_since(since)
    latest: list[Event] = client.read_events(**filters, newest_first=True, limit=limit)
    latest.reverse()
    if latest:
        console().print(_table(latest, header=True))
    elif not follow:
        console().print("[dim]No events match.[/]")
    if follow:
        try:
            _follow(client, filters, latest[-1].id if latest else 0)
        except KeyboardInterrupt:
            raise typer.Exit(0) from None


COLUMNS = ("id", "occurred", "kind", "actor", "flow_run_id", "flow_run_name", "remote", "details")


def _pages(client: InloopClient, since: datetime | None, page: int) -> Iterator[list[Event]]:
    """Every event (since `since`), oldest first, a page at a time: each page continues after
    the last id of the one before (keyset paging: a row added or deleted meanwhile never
    shifts a page, as it would with an offset)."""
    after_id = 0
    while True:
        found: list[Event] = client.read_events(since=since, after_id=after_id, limit=page)
        if found:
            yield found
        if len(found) < page:
            return
        after_id = found[-1].id


@contextlib.contextmanager
def _opened(output: Path | None) -> Iterator[TextIO]:
    if output is None:
        yield sys.stdout
        return
    try:
        stream = output.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        raise UserError(f"cannot write --output {str(output)!r}: {exc.strerror}") from None
    with stream:
        yield stream


@app.command("export")
def export(
    format: Annotated[
        Literal["jsonl", "csv"],
        typer.Option(
            "--format", metavar="jsonl|csv",
            help="jsonl: one JSON object a line; csv: a header row first.",
        ),
    ] = "jsonl",
    since: Annotated[
        str | None, typer.Option(metavar="WHEN", help="From this time: 10m, 2h, 3d or ISO 8601.")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write here (default: stdout)."),
    ] = None,
    page: Annotated[int, typer.Option(min=1, max=1000, hidden=True)] = PAGE,
) -> None:
    """Write out every event, oldest first (failed sign-ins only for admins).

    Progress goes to stderr, so stdout can be piped: `inloop events export > events.jsonl`.
    """
    from inloop.client import get_client

    client = get_client()
    start = parse_since(since) if since is not None else None
    written = 0
    with _opened(output) as stream:
        table = csv.writer(stream, lineterminator="\n") if format == "csv" else None
        if table is not None:
            table.writerow(COLUMNS)
        for number, found in enumerate(_pages(client, start, page), start=1):
            for event in found:
                row = event.model_dump(mode="json")
                if table is None:
                    stream.write(json.dumps(row, ensure_ascii=False) + "\n")
                else:
                    row["details"] = json.dumps(row["details"], ensure_ascii=False)
                    table.writerow([row[column] for column in COLUMNS])
            written += len(found)
            stream.flush()
            if number > 1 or len(found) == page:  # a long export: say how far it got
                err_console().print(f"[dim]{written} events so far (up to id {found[-1].id})[/]")
    where = f" to {output}" if output is not None else ""
    err_console().print(f"Exported {written} event{'s' if written != 1 else ''}{where}.")
