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

__all__ = ["app"]

app = typer.Typer(help="Run the inloop server.", no_args_is_help=True)


def _check_port_free(host: str, port: int) -> None:
    """Fail with a clear message if something already listens there (uvicorn's is cryptic)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UserError(
                f"port {port} on {host} is already in use; stop what is listening there "
                "(another inloop server?) or pick another port with --port"
            ) from exc
        # Anything else (an unknown host, a port that needs root): uvicorn will say it.


def _exit_quietly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


@app.command()
def start(
    host: Annotated[
        str | None,
        typer.Option(help="Address to bind [default: INLOOP_SERVER_HOST or 127.0.0.1]."),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(help="Port to listen on [default: INLOOP_SERVER_PORT or 4200]."),
    ] = None,
) -> None:
    """Start the server: the JSON API under /api and the web UI at /."""
    from inloop.server.serve import serve
    from inloop.settings import get_settings

    settings = get_settings()
    host = host or settings.server_host
    port = port if port is not None else settings.server_port
    _check_port_free(host, port)
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
