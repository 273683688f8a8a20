"""`inloop flow-run ...`: list, inspect, follow logs, cancel, resume and link flow runs."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from inloop.cli._output import (
    UserError,
    console,
    err_console,
    first_line,
    format_time,
    relative,
    state_text,
)

if TYPE_CHECKING:
    from inloop.client import InloopClient
    from inloop.schemas import FlowRun, PauseView, State

__all__ = ["app", "parse_states", "resolve_run_id"]

# How long `resume` watches the run to say what the flow did with the answer.
RESUME_WATCH_SECONDS = 3.0
COMPLAINT_PAGES = 4
COMPLAINT_LINES = 4

app = typer.Typer(help="List, inspect, follow, cancel and resume flow runs.", no_args_is_help=True)

RunId = Annotated[
    str,
    typer.Argument(
        metavar="RUN",
        help="The flow run: its id, its name, or the start of its id (as the UI shows it).",
        show_default=False,
    ),
]


def resolve_run_id(client: InloopClient, ref: str) -> str:
    """The full id of the run `ref` names; the server explains a name that fits none or many."""
    try:
        return str(UUID(ref))  # a full id needs no lookup
    except ValueError:
        pass
    run: FlowRun = client.resolve_flow_run(ref)
    return str(run.id)


def parse_states(values: list[str]) -> list[str]:
    """State names from `--state` (any case, repeated or comma-separated), checked."""
    from inloop.schemas import StateType

    found = []
    for value in values:
        for part in value.split(","):
            name = part.strip().upper()
            if not name:
                continue
            if name not in StateType.__members__:
                known = ", ".join(s.value.lower() for s in StateType)
                raise UserError(f"unknown state {part.strip()!r}; choose from {known}")
            found.append(name)
    return found


@app.command("ls")
def list_runs(
    state: Annotated[
        list[str] | None,
        typer.Option(
            "--state",
            metavar="STATE",
            help="Only runs in this state (any case; repeat for several).",
            show_default=False,
        ),
    ] = None,
    flow: Annotated[
        str | None, typer.Option(
            "--flow", metavar="NAME", help="Only runs of this flow.", show_default=False
        )
    ] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=1000, metavar="N", help="How many runs to show.")
    ] = 20,
) -> None:
    """List flow runs, newest first."""
    states = parse_states(state or [])
    from inloop.client import get_client

    runs: list[FlowRun] = get_client().read_flow_runs(
        flow_name=flow, state=states or None, limit=limit
    )
    if not runs:
        console().print("[dim]No flow runs found.[/]")
        return
    table = Table(title=None, box=None, header_style="bold", pad_edge=False)
    table.add_column("ID", no_wrap=True, style="dim")
    table.add_column("Name", no_wrap=True)
    table.add_column("Flow", no_wrap=True)
    table.add_column("State", no_wrap=True)
    table.add_column("Created", no_wrap=True)
    table.add_column("Updated", no_wrap=True)
    table.add_column("Deployment")
    for run in runs:
        table.add_row(
            str(run.id),
            run.name,
            run.flow_name,
            state_text(run.state),
            relative(run.created),
            relative(run.updated),
            _deployment(run) or "-",
        )
    console().print(table)


@app.command()
def inspect(flow_run_id: RunId) -> None:
    """Show a flow run's fields and its state history."""
    from inloop.client import get_client

    client = get_client()
    flow_run_id = resolve_run_id(client, flow_run_id)
    run: FlowRun = client.read_flow_run(flow_run_id)
    states: list[State] = client.read_flow_run_states(flow_run_id)

    fields = Table.grid(padding=(0, 2))
    fields.add_column(style="bold", no_wrap=True)
    fields.add_column()
    state = state_text(run.state)
    if run.state.message:
        state.append(f" - {run.state.message}", style="")
    fields.add_row("ID", str(run.id))
    fields.add_row("Name", run.name)
    fields.add_row("Flow", run.flow_name)
    fields.add_row("State", state)
    fields.add_row("Deployment", _deployment(run) or "-")
    if run.parent_flow_run_id:
        fields.add_row("Parent run", str(run.parent_flow_run_id))
    fields.add_row("Parameters", Text(json.dumps(run.parameters, default=str)))
    fields.add_row("Created", format_time(run.created))
    if run.created_by:
        fields.add_row("Started by", run.created_by)
    fields.add_row("Updated", format_time(run.updated))
    fields.add_row("Started", format_time(run.start_time))
    fields.add_row("Ended", format_time(run.end_time))
    if run.pause is not None:
        waits = "waits for input" if run.pause.has_input else "waits for a resume"
        fields.add_row("Pause", f"key {run.pause.key}, {waits}")
        fields.add_row("Deadline", format_time(run.pause.deadline))
        if run.pause.description:
            fields.add_row("Asks", Text(first_line(run.pause.description)))
        if run.pause.assignees:
            fields.add_row("Assigned to", ", ".join(run.pause.assignees))
        if not run.pause.allow_self_approval:
            fields.add_row("Self-approval", f"not allowed: {run.created_by or 'its starter'} "
                           "may not answer")
        fields.add_row("Resume with", f"inloop flow-run resume {run.id}")
    console().print(fields)
    console().print()

    history = Table(title="State history", title_justify="left", box=None, header_style="bold")
    history.add_column("#", justify="right", style="dim")
    history.add_column("Time", no_wrap=True)
    history.add_column("State", no_wrap=True)
    history.add_column("By", no_wrap=True)
    history.add_column("Message")
    for number, entry in enumerate(states, 1):
        details = entry.details or {}
        by = details.get("resumed_by") or details.get("cancelled_by") or ""
        history.add_row(
            str(number),
            format_time(entry.timestamp),
            state_text(entry),
            Text(str(by)),
            Text(entry.message or ""),
        )
    console().print(history)


@app.command()
def logs(
    flow_run_id: RunId,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new logs until the run ends.")
    ] = False,
) -> None:
    """Print a flow run's logs."""
    from inloop.cli._follow import LOG_PAGE, follow_run, print_logs
    from inloop.client import get_client

    client = get_client()
    flow_run_id = resolve_run_id(client, flow_run_id)
    if follow:
        follow_run(client, flow_run_id)
        return
    after_id = 0
    while True:
        records = client.read_logs(flow_run_id, after_id=after_id, limit=LOG_PAGE)
        after_id = print_logs(records) or after_id
        if len(records) < LOG_PAGE:
            return


@app.command()
def cancel(flow_run_id: RunId) -> None:
    """Cancel a flow run."""
    from inloop.client import get_client

    client = get_client()
    run: FlowRun = client.cancel_flow_run(resolve_run_id(client, flow_run_id))
    console().print(f"Cancelled flow run [bold]{escape(run.name)}[/] ({run.id}).")


@app.command()
def resume(
    flow_run_id: RunId,
    input_json: Annotated[
        str | None,
        typer.Option(
            "--input",
            metavar="JSON",
            help="The input as a JSON object; without it, a terminal prompts for each field.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Resume a paused or suspended flow run, with the input it waits for."""
    from inloop.client import get_client

    client = get_client()
    flow_run_id = resolve_run_id(client, flow_run_id)
    if input_json is not None:
        run = client.resume_flow_run(flow_run_id, _parse_input(client, flow_run_id, input_json))
    else:
        pause = client.read_pause(flow_run_id)
        schema = pause.schema_
        if schema is None:
            run = client.resume_flow_run(flow_run_id, None)
        elif not sys.stdin.isatty():
            raise UserError(
                f"flow run {flow_run_id} waits for input and stdin is not a terminal, so "
                f"nothing can be asked; pass --input JSON, e.g. --input '{_example(schema)}'"
            )
        else:
            run = _prompt_and_resume(client, flow_run_id, pause)
    _report_resumed(client, run)


@app.command()
def link(
    flow_run_id: RunId,
    recipient: Annotated[
        str,
        typer.Option(
            help="Who the link is for (an address or a name); the answer is recorded as "
            "given by link:<recipient>.",
            show_default=False,
        ),
    ],
    expires: Annotated[
        str, typer.Option(help="How long the link works: 30m, 12h, 2d, 1w (at most 90d).")
    ] = "7d",
) -> None:
    """Print a signed link that lets RECIPIENT answer the run's current pause, once."""
    from inloop.cli.users import parse_duration
    from inloop.client import get_client

    seconds = parse_duration(expires)
    if seconds is None:
        raise UserError(f"--expires {expires!r}: a resume link always expires; give e.g. 2d")
    client = get_client()
    found = client.create_resume_link(resolve_run_id(client, flow_run_id), recipient, seconds)
    # The URL alone on stdout, so `inloop flow-run link ... | mail` or $(...) works.
    print(found.url)
    err_console().print(
        f"[dim]for {escape(found.recipient)}, answers pause {escape(found.pause_key)} "
        f"once; expires {format_time(found.expires_at)}[/]"
    )


def _report_resumed(client: InloopClient, run: FlowRun) -> None:
    """Say what the flow did with the answer: went on, finished, or asked again."""
    after: FlowRun = client.wait_for_flow_run_change(
        run.id, run.state_seq, timeout=RESUME_WATCH_SECONDS
    )
    resumed = f"Resumed flow run [bold]{escape(run.name)}[/] ({run.id});"
    if after.state_seq == run.state_seq or after.pause is None:
        # Still running (or moved on to a state that says it all): name that state.
        line = Text.from_markup(f"{resumed} now ").append_text(state_text(after.state))
        if after.state.message and after.state.is_final():
            line.append(f" - {after.state.message}")
        console().print(line, soft_wrap=True)
        return
    reason = _complaint_since(client, run)
    key = escape(after.pause.key)
    if reason is None:
        console().print(
            f"{resumed} it went on and now waits for more input (key {key}): "
            f"inloop flow-run resume {run.id}",
            soft_wrap=True,
        )
        return
    console().print(
        f"{resumed} [red]the flow rejected the answer and paused again (key {key}):[/] "
        f"{escape(reason)}",
        soft_wrap=True,
    )
    raise typer.Exit(1)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)  # the server stores UTC


def _complaint_since(client: InloopClient, run: FlowRun) -> str | None:
    """The last warning or error the flow logged after this resume (its reason for asking again)."""
    from inloop.cli._follow import LOG_PAGE

    resumed_at = _utc(run.state.timestamp)
    found = None
    after_id = 0
    for _ in range(COMPLAINT_PAGES):
        records = client.read_logs(run.id, after_id=after_id, limit=LOG_PAGE)
        for record in records:
            stamp = _utc(record.timestamp)
            late = resumed_at is None or (stamp is not None and stamp >= resumed_at)
            if record.level >= logging.WARNING and late:
                found = record.message
        if len(records) < LOG_PAGE:
            break
        after_id = records[-1].id
    if not found:
        return None
    # The flow's own words, trimmed: enough lines to show why, not a whole traceback.
    lines = [line.rstrip() for line in found.strip().splitlines() if line.strip()]
    return "\n  ".join(lines[:COMPLAINT_LINES])


def _parse_input(client: InloopClient, flow_run_id: str, text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UserError(f"--input is not valid JSON ({exc}): {text!r}") from exc
    if isinstance(value, dict):
        return value
    # A pause for a plain type (`wait_for_input=int`) asks for {"value": ...}: take a bare value.
    schema = client.read_pause(flow_run_id).schema_ or {}
    if set(schema.get("properties") or {}) == {"value"}:
        return {"value": value}
    raise UserError(
        f"--input must be a JSON object such as '{_example(schema)}', "
        f"not {type(value).__name__} {text!r}"
    )


def _example(schema: dict[str, Any]) -> str:
    names = schema.get("required") or list(schema.get("properties") or {})
    return json.dumps({name: "..." for name in names})


def _prompt_and_resume(client: InloopClient, flow_run_id: str, pause: PauseView) -> FlowRun:
    from rich.markdown import Markdown

    from inloop.cli._prompts import ask_fields, fields_of
    from inloop.client import InloopAPIError

    if pause.description:
        console().print(Markdown(pause.description))
        console().print()
    fields = fields_of(pause.schema_)
    answers = ask_fields(fields, {})
    while True:
        try:
            run: FlowRun = client.resume_flow_run(flow_run_id, answers)
            return run
        except InloopAPIError as exc:
            if exc.status_code != 422 or not isinstance(exc.detail, list):
                raise
            rejected = _rejected_fields(exc.detail)
            whole = _whole_answer_errors(exc.detail)
            # A refusal of the whole answer (the flow's own model_validator, when the pause
            # validates before resuming) names no field: ask every field again.
            retry = [field for field in fields if field.name in rejected] or (
                fields if whole else []
            )
            if not retry:
                raise
            console().print("[red]The server rejected the input:[/]")
            for message in whole:
                console().print(f"  [red]✗ {escape(message)}[/]")
            for name, messages in rejected.items():
                for message in messages:
                    console().print(f"  [red]✗ {escape(name)}: {escape(message)}[/]")
            ask_fields(retry, answers)


def _whole_answer_errors(detail: list[Any]) -> list[str]:
    """Messages of 422 errors located at `run_input` itself (about the answer as a whole)."""
    return [
        str(item.get("msg"))
        for item in detail
        if isinstance(item, dict) and [str(p) for p in item.get("loc", [])] == ["run_input"]
    ]


def _rejected_fields(detail: list[Any]) -> dict[str, list[str]]:
    """Field name -> messages, from 422 errors located at `run_input.<field>...`."""
    from inloop.client import describe_detail

    found: dict[str, list[str]] = {}
    for item in detail:
        if not isinstance(item, dict):
            continue
        loc = [str(p) for p in item.get("loc", [])]
        if "run_input" in loc and loc.index("run_input") + 1 < len(loc):
            name = loc[loc.index("run_input") + 1]
            found.setdefault(name, []).append(str(item.get("msg") or describe_detail([item])))
    return found


def _deployment(run: FlowRun) -> str | None:
    if run.deployment_name:
        return f"{run.flow_name}/{run.deployment_name}"
    return str(run.deployment_id) if run.deployment_id else None
