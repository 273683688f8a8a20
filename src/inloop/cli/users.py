"""`inloop user ...` and `inloop token ...`: people and their API tokens.

The first `inloop user add` switches the server to users mode; run it on the server's machine
(an open server takes it only from loopback) or with the server's INLOOP_API_KEY.
"""

from __future__ import annotations

import re
import sys
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from inloop.cli._output import UserError, console, err_console, relative

__all__ = ["parse_duration", "token_app", "user_app"]

user_app = typer.Typer(help="Add, list and disable users.", no_args_is_help=True)
token_app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)

UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def parse_duration(text: str) -> int | None:
    """"90d" -> seconds; "never" -> None. Units: m(inutes), h, d, w, y."""
    value = text.strip().lower()
    if value in ("never", "none", "0"):
        return None
    match = re.fullmatch(r"(\d+)\s*([mhdwy])", value)
    if match is None:
        raise UserError(
            f"--expires expects a number and a unit (30m, 12h, 90d, 2w, 1y) or 'never', "
            f"got {text!r}"
        )
    return int(match.group(1)) * UNITS[match.group(2)]


def _read_password(prompt: bool, from_stdin: bool) -> str | None:
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise UserError("--password-stdin read an empty line; pipe the password in")
        return line
    if prompt:
        password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        return password
    return None


@user_app.command("add")
def add_user(
    name: Annotated[str, typer.Argument(help="The user's name (letters, digits, . _ @ -).")],
    role: Annotated[
        str,
        typer.Option(help="admin, operator, responder, viewer, worker or runner (for runners)."),
    ] = "viewer",
    group: Annotated[
        list[str] | None, typer.Option("--group", "-g", help="A group (repeat for more).")
    ] = None,
    email: Annotated[str | None, typer.Option(help="The user's email address.")] = None,
    password: Annotated[
        bool, typer.Option("--password", help="Ask for a password (for the UI sign-in).")
    ] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Add a user. The first user (an admin) switches the server to users mode."""
    from inloop.client import get_client

    secret = _read_password(password, password_stdin)
    user = get_client().create_user(name, role, group or [], email, secret)
    console().print(f"Added user [bold]{escape(user.name)}[/] (role {user.role}).")
    if user.token:
        # The first user: the server now asks every caller for a token, so here is theirs.
        console().print(
            "The server is now in users mode: every request needs a user's token. This one is "
            f"{escape(user.name)}'s, shown only now; set it as INLOOP_API_KEY:"
        )
        print(user.token)
        _say_what_changes(user.runs_in_flight or {})


def _say_what_changes(in_flight: dict[str, int]) -> None:
    """After the first user: what happens to the work in flight (on stderr: stdout ends with
    the token, for scripts)."""
    waiting = in_flight.get("PAUSED", 0) + in_flight.get("SUSPENDED", 0)
    running = in_flight.get("RUNNING", 0) + in_flight.get("PENDING", 0)
    scheduled = in_flight.get("SCHEDULED", 0)
    err_console().print(
        f"Runs in flight: {waiting} waiting (paused or suspended), {running} running, "
        f"{scheduled} scheduled. Runs already started go on: each one's process speaks as "
        "its run (its run token), so they keep working and can be resumed by a user with a "
        "role that may answer.\n"
        "Runners need a token now: a runner started without one keeps its running runs but "
        "cannot claim new ones until it is restarted with one. Make one with `inloop user "
        "add NAME --role runner` and `inloop token create --user NAME`, then start the runner "
        "with INLOOP_API_KEY=<runner token>."
    )


@user_app.command("ls")
def list_users() -> None:
    """List users."""
    from inloop.client import get_client

    found = get_client().read_users()
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("Name", "Role", "Groups", "Email", "Password", "Status", "Created"):
        table.add_column(column, no_wrap=column != "Groups")
    for user in found:
        table.add_row(
            escape(user.name),
            user.role,
            escape(", ".join(user.groups)) or "—",
            escape(user.email or "—"),
            "yes" if user.has_password else "no",
            "[red]disabled[/]" if user.disabled else "active",
            relative(user.created),
        )
    console().print(table)


@user_app.command("disable")
def disable_user(name: Annotated[str, typer.Argument(help="The user to disable.")]) -> None:
    """Disable a user: their tokens and sessions stop working at once."""
    from inloop.client import get_client

    get_client().update_user(name, disabled=True)
    console().print(f"Disabled user [bold]{escape(name)}[/].")


@user_app.command("link-sso")
def link_sso(
    name: Annotated[str, typer.Argument(help="The user to link.")],
    subject: Annotated[
        str | None,
        typer.Option(help="The provider account's `sub` (its stable id, not its user name)."),
    ] = None,
    unlink: Annotated[
        bool, typer.Option("--unlink", help="Remove the user's SSO link instead.")
    ] = False,
) -> None:
    """Let a user sign in with SSO as the provider account SUB (or unlink them).

    SSO never takes over an existing user by the name the provider sends; an admin links
    them here. The provider account's next sign-in is this user, with this user's role.
    """
    from inloop.client import get_client

    if (subject is None) == (not unlink):
        raise UserError("give either --subject SUB (to link) or --unlink, not both or neither")
    get_client().update_user(name, sso_subject=subject)
    if subject is None:
        console().print(f"Unlinked user [bold]{escape(name)}[/] from SSO.")
    else:
        console().print(
            f"Linked user [bold]{escape(name)}[/] to the SSO account with sub "
            f"{escape(subject)!r}: its next sign-in is {escape(name)}."
        )


@user_app.command("enable")
def enable_user(name: Annotated[str, typer.Argument(help="The user to enable.")]) -> None:
    """Enable a disabled user again."""
    from inloop.client import get_client

    get_client().update_user(name, disabled=False)
    console().print(f"Enabled user [bold]{escape(name)}[/].")


@user_app.command("password")
def change_password(
    name: Annotated[str, typer.Argument(help="Whose password to change.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    revoke_tokens: Annotated[
        bool, typer.Option("--revoke-tokens", help="Also revoke the user's API tokens.")
    ] = False,
) -> None:
    """Set a user's password. Their other sessions end; their API tokens keep working unless
    --revoke-tokens."""
    from inloop.client import get_client

    secret = _read_password(True, password_stdin)
    user = get_client().update_user(name, password=secret, revoke_tokens=revoke_tokens)
    change = user.password_change
    ended = change.sessions_ended if change else 0
    console().print(
        f"Changed [bold]{escape(name)}[/]'s password; signed out {_count(ended, 'session')}."
    )
    kept = change.tokens_kept if change else 0
    if revoke_tokens:
        revoked = change.tokens_revoked if change else 0
        console().print(f"Revoked {_count(revoked, 'API token')}.")
    elif kept:
        console().print(
            f"Kept {escape(name)}'s {_count(kept, 'API token')} (still working); to revoke "
            "them, run this again with --revoke-tokens, or `inloop token revoke ID`."
        )
    else:
        console().print(f"{escape(name)} has no API tokens.")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


@token_app.command("create")
def create_token(
    user: Annotated[
        str | None, typer.Option(help="Whose token (default: the caller's own).")
    ] = None,
    name: Annotated[str, typer.Option(help="A label, e.g. the machine it is for.")] = "token",
    expires: Annotated[
        str, typer.Option(help="Lifetime: 30m, 12h, 90d, 2w, 1y, or 'never'.")
    ] = "90d",
) -> None:
    """Create an API token and print it (once: it is stored only as a hash)."""
    from inloop.client import get_client

    token = get_client().create_token(user, name, parse_duration(expires))
    # The secret alone on stdout, so `export INLOOP_API_KEY=$(inloop token create ...)` works.
    print(token.token)
    until = f"expires {relative(token.expires)}" if token.expires else "no expiry"
    err_console().print(
        f"[dim]token {token.id} for {escape(token.user)} ({escape(token.name)}, "
        f"{until}); use it as INLOOP_API_KEY. It is not shown again.[/]"
    )


@token_app.command("ls")
def list_tokens(
    user: Annotated[str | None, typer.Option(help="Only this user's tokens.")] = None,
) -> None:
    """List API tokens (never their secrets)."""
    from inloop.client import get_client

    found = get_client().read_tokens(user)
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("ID", "User", "Name", "Status", "Expires", "Last used", "Created"):
        table.add_column(column, no_wrap=True)
    for token in found:
        status = "[red]revoked[/]" if token.revoked else "active"
        table.add_row(
            token.id,
            escape(token.user),
            escape(token.name),
            status,
            relative(token.expires) if token.expires else "never",
            relative(token.last_used) if token.last_used else "never",
            relative(token.created),
        )
    console().print(table)


@token_app.command("revoke")
def revoke_token(token_id: Annotated[str, typer.Argument(help="The token's id.")]) -> None:
    """Revoke an API token: it stops working at once."""
    from inloop.client import get_client

    token = get_client().revoke_token(token_id)
    console().print(f"Revoked token {token.id} ({escape(token.name)}).")
