"""How the CLI writes: Rich consoles, times, states, log lines, and errors.

Nothing here talks to the server, so every command module can import it without paying for the
client.
"""

from __future__ import annotations

import functools
import os
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console
from rich.text import Text

if TYPE_CHECKING:
    from inloop.schemas import LogRecord, State

__all__ = [
    "UserError",
    "console",
    "err_console",
    "fail",
    "first_line",
    "format_time",
    "log_line",
    "print_error",
    "relative",
    "state_text",
]

# Piped output (tests, `| grep`) should not be squeezed to 80 columns: ids must stay whole.
PIPE_WIDTH = 200

STATE_STYLES = {
    "SCHEDULED": "cyan",
    "PENDING": "cyan",
    "RUNNING": "blue",
    "PAUSED": "yellow",
    "SUSPENDED": "yellow",
    "COMPLETED": "green",
    "FAILED": "red",
    "CRASHED": "red",
    "CANCELLED": "magenta",
}
LEVEL_STYLES = {"DEBUG": "dim", "WARNING": "yellow", "ERROR": "red", "CRITICAL": "bold red"}


class UserError(Exception):
    """Something the user asked for cannot be done; the message says what to do instead."""


def _make_console(stderr: bool) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    width = None
    if not stream.isatty() and "COLUMNS" not in os.environ:
        width = PIPE_WIDTH
    return Console(stderr=stderr, width=width, highlight=False)


@functools.cache
def console() -> Console:
    return _make_console(stderr=False)


@functools.cache
def err_console() -> Console:
    return _make_console(stderr=True)


def print_error(message: str) -> None:
    """One red `Error: ...` line on stderr."""
    err_console().print(Text.assemble(("Error: ", "bold red"), (message, "red")), soft_wrap=True)


def fail(message: str) -> NoReturn:
    """Print one red `Error: ...` line on stderr and exit with code 1."""
    print_error(message)
    raise typer.Exit(1)


def first_line(markdown: str) -> str:
    """The first non-empty line of a Markdown text, without heading or quote markers."""
    line = next((ln.strip() for ln in markdown.splitlines() if ln.strip()), "")
    return line.lstrip("#> ").strip()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def relative(moment: datetime | None, now: datetime | None = None) -> str:
    """`just now`, `3m ago`, `in 2h`, ... for a timestamp (naive ones are UTC)."""
    if moment is None:
        return "-"
    now = now or datetime.now(UTC)
    seconds = (now - _aware(moment)).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 5:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            amount = f"{int(seconds // size)}{unit}"
            return f"in {amount}" if future else f"{amount} ago"
    return "just now"  # pragma: no cover - the loop always returns


def format_time(moment: datetime | None) -> str:
    """Local ISO time to the second, with its relative form: `2024-05-01 10:00:00 (3m ago)`."""
    if moment is None:
        return "-"
    local = _aware(moment).astimezone()
    return f"{local:%Y-%m-%d %H:%M:%S} ({relative(moment)})"


def state_text(state: State | str) -> Text:
    type_ = state if isinstance(state, str) else state.type.value
    name = type_.capitalize() if isinstance(state, str) else state.name
    return Text(name, style=STATE_STYLES.get(type_, ""))


def log_line(record: LogRecord) -> Text:
    """`HH:MM:SS.mmm | LEVEL   | message`, in local time like the flow's own console."""
    local = _aware(record.timestamp).astimezone()
    stamp = f"{local:%H:%M:%S}.{local.microsecond // 1000:03d}"
    level = record.level_name
    return Text.assemble(
        (stamp, "dim"), " | ", (f"{level:<7}", LEVEL_STYLES.get(level, "")), " | ", record.message
    )
