"""`inloop deployment ...`: list deployments and start runs of them."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from inloop.cli._output import UserError, console, relative, state_text

if TYPE_CHECKING:
    from inloop.schemas import Deployment, FlowRun

__all__ = ["app", "parse_params"]

app = typer.Typer(help="List deployments and run them.", no_args_is_help=True)


def parse_params(values: list[str]) -> dict[str, Any]:
    """`k=v` pairs; a value that parses as JSON is that JSON (`n=3` is 3), else a string."""
    params: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--param expects key=value, got {item!r}")
        try:
            params[key.strip()] = json.loads(raw)
        except ValueError:
            params[key.strip()] = raw
    return params


@app.command("ls")
def list_deployments() -> None:
    """List deployments and when a runner last asked for their runs."""
    from inloop.client import get_client

    found: list[Deployment] = get_client().read_deployments()
    if not found:
        console().print(
            "[dim]No deployments yet. Serve a flow with Flow.serve(name=...) to create one.[/]"
        )
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("Name", no_wrap=True)
    table.add_column("ID", no_wrap=True, style="dim")
    table.add_column("Entrypoint")
    table.add_column("Created", no_wrap=True)
    table.add_column("Runner seen", no_wrap=True)
    for deployment in found:
        table.add_row(
            deployment.full_name,
            str(deployment.id),
            deployment.entrypoint,
            relative(deployment.created),
            relative(deployment.last_polled) if deployment.last_polled else "never",
        )
    console().print(table)


@app.command()
def run(
    name: Annotated[
        str,
        typer.Argument(metavar="NAME", help="The deployment, as 'flow-name/deployment-name'."),
    ],
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            metavar="KEY=VALUE",
            help="A parameter (repeatable); the value is read as JSON if it parses, else text.",
            show_default=False,
        ),
    ] = None,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch", help="Follow the run's states and logs; exit 0 only if it completes."
        ),
    ] = False,
) -> None:
    """Start a run of a deployment; a runner serving it picks it up."""
    from inloop.client import get_client
    from inloop.settings import get_settings

    parameters = parse_params(param or [])
    client = get_client()
    flow_run: FlowRun = client.run_deployment_by_name(name, parameters)
    console().print(
        f"Created flow run [bold]{escape(flow_run.name)}[/] ({flow_run.id}) "
        f"for deployment [bold]{escape(name)}[/]."
    )
    console().print(f"View at {get_settings().resolved_ui_url}/runs/{flow_run.id}", soft_wrap=True)
    if not watch:
        return
    from inloop.cli._follow import follow_run

    final = follow_run(client, str(flow_run.id), show_states=True)
    console().print(f"Flow run [bold]{escape(final.name)}[/] finished:", state_text(final.state))
    if not final.state.is_completed():
        raise typer.Exit(1)
