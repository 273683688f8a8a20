"""The `inloop` Typer app: one sub-app per command group, and `main()` that turns errors into lines.

Command modules import the client and the server inside their commands, so `inloop --help`
loads neither.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from inloop.cli import automations, deployments, events, flow_runs, inbox, server, users
from inloop.cli._help import tidy_help
from inloop.cli._output import UserError, print_error

__all__ = ["app", "main"]

app = typer.Typer(
    name="inloop",
    help="inloop: workflows that wait for people.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(server.app, name="server")
app.add_typer(flow_runs.app, name="flow-run")
app.add_typer(deployments.app, name="deployment")
app.add_typer(users.user_app, name="user")
app.add_typer(users.token_app, name="token")
app.add_typer(automations.app, name="automation")
app.command("inbox")(inbox.inbox)
app.add_typer(events.app, name="events")


def _print_version(value: bool) -> None:
    if value:
        from inloop import __version__

        print(f"inloop {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print inloop's version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """inloop: workflows that wait for people."""


def _error_message(exc: Exception) -> str | None:
    """The one line to show for an error the user can act on; None for a bug."""
    if isinstance(exc, UserError):
        return str(exc)
    if "inloop.client" in sys.modules:
        from inloop.client import InloopAPIError, ServerUnavailable, describe_detail

        if isinstance(exc, InloopAPIError):
            return describe_detail(exc.detail)
        if isinstance(exc, ServerUnavailable):
            return str(exc)
    if isinstance(exc, ValueError):
        return str(exc)
    return None


def main() -> None:
    command = typer.main.get_command(app)
    tidy_help(command)
    try:
        command(prog_name="inloop")
    except Exception as exc:
        message = _error_message(exc)
        if message is None:
            raise
        print_error(message)
        sys.exit(1)
