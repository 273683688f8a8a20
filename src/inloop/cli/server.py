"""`inloop server start`: the API and the UI in one process."""

from __future__ import annotations

import errno
import signal
import socket
import sys
from types import FrameType
from typing import Annotated

import typer

from inloop.cli._output import UserError, console
from inloop.settings import Settings

__all__ = ["app"]

app = typer.Typer(help="Run the inloop server.", no_args_is_help=True)


MAX_PORT = 65535


def _check_port(port: int, given: str) -> None:
    if not 1 <= port <= MAX_PORT:
        raise UserError(
            f"{given} is not a port; use a number from 1 to {MAX_PORT}, e.g. --port 4200"
        )


def _check_can_bind(host: str, port: int) -> None:
    """Fail with one clear line if the server could not listen there (uvicorn's is cryptic)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except socket.gaierror as exc:
        raise UserError(
            f"--host {host!r} cannot be resolved ({exc.strerror}); "
            "use e.g. 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)"
        ) from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UserError(
                f"port {port} on {host} is already in use; stop what is listening there "
                "(another inloop server?) or pick another port with --port"
            ) from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise UserError(
                f"--host {host!r} is not an address of this machine; "
                "use e.g. 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)"
            ) from None
        if exc.errno == errno.EACCES:
            raise UserError(
                f"port {port} needs more privileges than this user has; "
                "pick a port above 1023 with --port"
            ) from None
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _check_sso(settings: Settings) -> None:
    """Refuse to start with wrong INLOOP_OIDC_* settings, in one line naming the setting."""
    from inloop.server.access import ROLES
    from inloop.server.oidc import OidcConfig, OidcConfigError

    try:
        OidcConfig.from_settings(settings, ROLES)
    except OidcConfigError as exc:
        raise UserError(str(exc)) from None


def _exit_quietly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


@app.command()
def start(
    host: Annotated[
        str | None,
        typer.Option(
            metavar="HOST",
            help="Address to bind (0.0.0.0 for every interface).",
            show_default="INLOOP_SERVER_HOST, else 127.0.0.1",
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            metavar="PORT",
            help="Port to listen on, 1-65535.",
            show_default="INLOOP_SERVER_PORT, else 4200",
        ),
    ] = None,
) -> None:
    """Start the server: the JSON API under /api and the web UI at /."""
    from inloop.server.serve import serve
    from inloop.settings import get_settings

    settings = get_settings()
    if port is not None:
        _check_port(port, f"--port {port}")
    else:
        port = settings.server_port
        _check_port(port, f"INLOOP_SERVER_PORT={port}")
    host = host or settings.server_host
    _check_can_bind(host, port)
    _check_sso(settings)
    base = f"http://{host}:{port}"
    console().print(
        f"[bold]inloop[/] server starting: UI [link={base}]{base}[/link]  "
        f"API [link={base}/api/docs]{base}/api/docs[/link]  (Ctrl-C to stop)",
        soft_wrap=True,
    )
    sys.stdout.flush()
    # uvicorn shuts down gracefully on SIGINT / SIGTERM, then re-raises the signal it caught
    # through the handler it found installed: make that handler a clean exit with code 0.
    signal.signal(signal.SIGINT, _exit_quietly)
    signal.signal(signal.SIGTERM, _exit_quietly)
    serve(host=host, port=port, settings=settings)
