"""`inloop automation ...`: apply automations from YAML, list them, switch them on and off,
delete them, and read one's delivery log.

`apply -f FILE` validates the whole file here first and names each bad field by its YAML path
and line (`automations[0].trigger.after (line 7): ...`), so nothing reaches the server until the
file is right; the server then applies it all or nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from inloop.cli._output import UserError, console, relative

if TYPE_CHECKING:
    import yaml

    from inloop.automations import AutomationFile

__all__ = ["app", "load_automation_file"]

app = typer.Typer(
    help="Apply, list, enable, disable and delete automations; read their deliveries.",
    no_args_is_help=True,
)

OUTCOME_STYLES = {"created": "green", "updated": "yellow", "unchanged": "dim"}
STATUS_STYLES = {"pending": "cyan", "delivered": "green", "failed": "red", "skipped": "dim"}


# --- the file ------------------------------------------------------------------------------------


def _yaml_path(root: yaml.Node | None, loc: tuple[int | str, ...]) -> tuple[str, int | None]:
    """A validation error's location as a YAML path, and the line it starts on.

    pydantic puts the names of union members into `loc` (`actions.0.notify.urls`); those match
    no key in the document and are left out of the path.
    """
    import yaml

    path = ""
    node = root
    unmatched: int | str | None = None
    for part in loc:
        if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(
            node.value
        ):
            node, unmatched = node.value[part], None
            path += f"[{part}]"
            continue
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == part), None)
            if child is not None:
                node, unmatched = child, None
                path += f".{part}" if path else str(part)
                continue
        unmatched = part
    if isinstance(node, yaml.MappingNode) and isinstance(unmatched, str):
        # The last part names a field the mapping lacks (a required one left out).
        path += f".{unmatched}" if path else unmatched
    line = node.start_mark.line + 1 if node is not None else None
    return path or "(top level)", line


def load_automation_file(path: Path) -> AutomationFile:
    """Read and validate a YAML automations file; a UserError names every bad field."""
    import yaml
    from pydantic import ValidationError

    from inloop.automations import AutomationFile

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise UserError(f"{where}: not valid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise UserError(
            f"{path}: expected a mapping with a list under `automations:`, got "
            f"{type(data).__name__}; see examples/automations.yaml"
        )
    try:
        return AutomationFile.model_validate(data)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            where, line = _yaml_path(root, tuple(error["loc"]))
            at = f" (line {line})" if line is not None else ""
            message = error["msg"].removeprefix("Value error, ")
            lines.append(f"  {where}{at}: {message}")
        count = len(lines)
        raise UserError(
            f"{path}: {count} invalid field{'s' if count != 1 else ''}, nothing applied:\n"
            + "\n".join(lines)
        ) from None


# --- how an automation reads in a table ----------------------------------------------------------


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def trigger_summary(trigger: dict[str, Any]) -> str:
    """`flow-run.paused, flow-run.suspended of flow approve-* after 1h, every 1h, 3 times`."""
    text = ", ".join(trigger.get("kinds") or [])
    if trigger.get("flow"):
        text += f" of flow {trigger['flow']}"
    if trigger.get("deployment"):
        text += f" of deployment {trigger['deployment']}"
    if trigger.get("after"):
        text += f" after {_duration(trigger['after'])}"
    repeat = trigger.get("repeat")
    if repeat:
        text += f", every {_duration(repeat['every'])}, {repeat.get('times', 1)} times"
    return text


def actions_summary(spec: dict[str, Any]) -> str:
    text = ", ".join(action.get("type", "?") for action in spec.get("actions") or [])
    escalate = spec.get("escalate") or []
    if escalate:
        text += " → " + ", ".join(action.get("type", "?") for action in escalate)
    return text


def stage_name(stage: int) -> str:
    if stage < 0:
        return "escalation"
    return "first" if stage == 0 else f"reminder {stage}"


# --- commands ------------------------------------------------------------------------------------


@app.command("apply")
def apply(
    file: Annotated[
        Path, typer.Option("--file", "-f", help="A YAML file with a list under `automations:`.")
    ],
) -> None:
    """Create or replace the automations in FILE by name (all or nothing)."""
    from inloop.client import get_client

    parsed = load_automation_file(file)
    for result in get_client().apply_automations(parsed):
        style = OUTCOME_STYLES[result.outcome]
        console().print(f"[{style}]{result.outcome:<9}[/] {escape(result.name)}")


@app.command("ls")
def list_automations() -> None:
    """List automations."""
    from inloop.client import get_client

    found = get_client().read_automations()
    if not found:
        console().print("No automations yet; add some with `inloop automation apply -f FILE`.")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("Name", "Status", "Trigger", "Actions", "Updated"):
        table.add_column(column, no_wrap=column in ("Name", "Status", "Updated"))
    for automation in found:
        table.add_row(
            escape(automation.name),
            "enabled" if automation.enabled else "[yellow]disabled[/]",
            escape(trigger_summary(automation.spec.get("trigger") or {})),
            escape(actions_summary(automation.spec)),
            relative(automation.updated),
        )
    console().print(table)


@app.command("enable")
def enable(name: Annotated[str, typer.Argument(help="The automation's name.")]) -> None:
    """Switch an automation on: new events plan deliveries for it again."""
    from inloop.client import get_client

    get_client().set_automation_enabled(name, True)
    console().print(f"Enabled automation [bold]{escape(name)}[/].")


@app.command("disable")
def disable(name: Annotated[str, typer.Argument(help="The automation's name.")]) -> None:
    """Switch an automation off: new events plan no deliveries for it."""
    from inloop.client import get_client

    get_client().set_automation_enabled(name, False)
    console().print(f"Disabled automation [bold]{escape(name)}[/].")


@app.command("delete")
def delete(
    name: Annotated[str, typer.Argument(help="The automation's name.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask to confirm.")] = False,
) -> None:
    """Delete an automation with its delivery log (pending deliveries are dropped)."""
    from inloop.client import get_client

    if not yes:
        try:
            confirmed = typer.confirm(
                f"Delete automation {name!r} and its delivery log?", default=False
            )
        except typer.Abort:  # no answer at all: standard input closed
            confirmed = False
        if not confirmed:
            raise UserError(
                f"automation {name!r} not deleted (pass --yes to delete without asking)"
            )
    get_client().delete_automation(name)
    console().print(f"Deleted automation [bold]{escape(name)}[/].")


@app.command("deliveries")
def deliveries(
    name: Annotated[str, typer.Argument(help="The automation's name.")],
    status: Annotated[
        str | None, typer.Option(help="Only pending, delivered, failed or skipped ones.")
    ] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
    before: Annotated[
        str | None, typer.Option(help="The next page: the id of the last one shown.")
    ] = None,
) -> None:
    """An automation's delivery log, newest first."""
    from inloop.client import get_client

    found = get_client().read_automation_deliveries(
        name, status=status, before=before, limit=limit
    )
    if not found:
        console().print(f"No deliveries for automation {escape(name)!r} yet.")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("ID", "Created", "Event", "Run", "Stage", "Action", "Status", "Tries",
                   "Last error"):
        table.add_column(column, no_wrap=column != "Last error")
    for delivery in found:
        style = STATUS_STYLES.get(delivery.status, "")
        table.add_row(
            delivery.id,
            relative(delivery.created),
            delivery.event_kind,
            escape(delivery.flow_run_name or delivery.flow_run_id or "—"),
            stage_name(delivery.stage),
            delivery.action or "—",
            f"[{style}]{delivery.status}[/]",
            str(delivery.attempt_count),
            escape(delivery.last_error or ""),
        )
    console().print(table)
