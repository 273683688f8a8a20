"""Run the server with uvicorn (what `inloop server start` calls)."""

from __future__ import annotations

from inloop.settings import Settings, get_settings

__all__ = ["serve"]


def serve(
    host: str | None = None, port: int | None = None, settings: Settings | None = None
) -> None:
    import uvicorn

    from inloop.server.app import create_app

    settings = settings or get_settings()
    config = uvicorn.Config(
        create_app(settings),
        host=host or settings.server_host,
        port=port if port is not None else settings.server_port,
        log_level="warning",
        # Long-polls are woken at shutdown; do not let a stuck one hold Ctrl-C hostage.
        timeout_graceful_shutdown=3,
        lifespan="on",
        access_log=False,
    )
    uvicorn.Server(config).run()
