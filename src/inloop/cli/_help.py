"""`--help` that reads like a man page: `--port PORT`, `--input JSON`, not `<int>` / `<bool>`.

Recent Typer versions print each parameter's Python type in the help's type column. For a
user, the metavar says more (what to type), a flag needs nothing there, and an argument's name
already is its metavar. `tidy_help` sets that once for the whole command tree, so command
modules only give each option a metavar.
"""

from __future__ import annotations

from typing import Any

__all__ = ["tidy_help"]


def _no_type(ctx: Any) -> None:
    return None


def _tidy(param: Any) -> None:
    if getattr(param, "param_type_name", "") == "argument" or getattr(param, "is_flag", False):
        # Typer looks this method up on the parameter; an instance attribute overrides it.
        param.display_type_rich = _no_type
        return
    if param.metavar is None:
        param.metavar = (param.name or "value").upper()


def tidy_help(command: Any) -> None:
    """Give every parameter of `command` and its subcommands a metavar (or none, for flags)."""
    ctx = command.context_class(command)
    for param in command.get_params(ctx):  # includes --help
        _tidy(param)
    for sub in (getattr(command, "commands", None) or {}).values():
        tidy_help(sub)
