"""Run the server with uvicorn (what `inloop server start` calls)."""

from __future__ import annotations

import asyncio
from typing import Any

from inloop.settings import Settings, get_settings

__all__ = ["serve"]


def serve(
    host: str | None = None, port: int | None = None, settings: Settings | None = None
) -> None:
    import uvicorn

    from inloop.server.app import create_app

    settings = settings or get_settings()
    host = host or settings.server_host
    port = port if port is not None else settings.server_port
    # The app answers to the address it is bound to (its Host check), so it must know it; and
    # links in notifications point at it unless INLOOP_UI_URL says otherwise.
    app = create_app(settings.model_copy(update={"server_host": host, "server_port": port}))

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            # Answer open long-polls now, so shutdown need not wait for them to time out.
            db = getattr(app.state, "db", None)
            if db is not None:
                try:
                    # A signal handler interrupts the loop's own thread: schedule, don't act.
                    asyncio.get_running_loop().call_soon_threadsafe(db.hub.close)
                except RuntimeError:
                    pass
            super().handle_exit(sig, frame)

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        # Long-polls are woken at shutdown; do not let a stuck one hold Ctrl-C hostage.
        timeout_graceful_shutdown=3,
        lifespan="on",
        access_log=False,
    )
    Server(config).run()
