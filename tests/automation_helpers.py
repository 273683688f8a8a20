"""Helpers for automation tests: automation rows in a test server's database, and receivers.

Automations are written straight into the server's database (the management API is built
elsewhere); the server reads them when it plans deliveries, so no restart is needed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import email
import email.policy
import json
import threading
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import sqlalchemy as sa

from inloop.automations import AutomationSpec
from tests.servers import ServerInfo, free_port

T = TypeVar("T")


def database_url(server: ServerInfo) -> str:
    return server.database_url or f"sqlite+aiosqlite:///{server.home / 'inloop.db'}"


def with_database(server: ServerInfo, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run `work(db)` against the server's database, on a thread with its own event loop."""
    from inloop.server.database.engine import Database

    async def run() -> T:
        db = Database(database_url(server))
        try:
            return await work(db)
        finally:
            await db.stop()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


def add_automation(server: ServerInfo, spec: AutomationSpec) -> str:
    from inloop.server.database.schema import automations

    automation_id = str(uuid.uuid4())
    now = datetime.now(UTC)

    async def insert(db: Any) -> None:
        async with db.transaction() as tx:
            await tx.execute(
                automations.insert().values(
                    id=automation_id,
                    name=spec.name,
                    enabled=spec.enabled,
                    spec=spec.model_dump(mode="json"),
                    created=now,
                    updated=now,
                )
            )

    with_database(server, insert)
    return automation_id


def _rows(server: ServerInfo, query: Any) -> list[dict[str, Any]]:
    async def read(db: Any) -> list[dict[str, Any]]:
        async with db.read() as conn:
            return [dict(row._mapping) for row in await conn.execute(query)]

    return with_database(server, read)


def deliveries_of(server: ServerInfo, automation_id: str) -> list[dict[str, Any]]:
    """The automation's delivery rows as stored, oldest first (the API pages newest first)."""
    from inloop.server.database.schema import automation_deliveries as d

    return _rows(server, sa.select(d).where(d.c.automation_id == automation_id).order_by(
        d.c.created, d.c.stage, d.c.action_index, d.c.target_index))


def attempts_of(server: ServerInfo, delivery_id: str) -> list[dict[str, Any]]:
    """Every attempt of one delivery, first first (the API shows only the latest few)."""
    from inloop.server.database.schema import automation_attempts as a

    return _rows(server, sa.select(a).where(a.c.delivery_id == delivery_id).order_by(a.c.id))


class WebhookReceiver:
    """A local HTTP server recording each POST; `answers` lists statuses to give first
    (then 200), each with `body`; `block` makes the next request wait until `release` is set."""

    def __init__(self, answers: list[int] | None = None, body: bytes = b"") -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.answers = list(answers or [])
        self.block = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with receiver.lock:
                    receiver.requests.append(({k.lower(): v for k, v in self.headers.items()},
                                              body))
                    status = receiver.answers.pop(0) if receiver.answers else 200
                    blocking = receiver.block.is_set()
                    receiver.block.clear()
                if blocking:
                    receiver.release.wait(120)
                    return  # the server that sent it is gone; nobody reads an answer
                self.send_response(status)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.port = free_port()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(body) for _, body in self.requests]

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


class SmtpReceiver:
    """An SMTP server (aiosmtpd) in this process, keeping each message it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[email.message.EmailMessage] = []
        receiver = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                message = email.message_from_bytes(envelope.content, policy=email.policy.default)
                receiver.messages.append(message)  # type: ignore[arg-type]
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def url(self, to: str) -> str:
        return (
            f"mailto://127.0.0.1:{self.port}?from=inloop@example.com&to={to}&mode=insecure"
        )

    def texts(self) -> list[tuple[str, str]]:
        """(subject, plain body) of each message."""
        found = []
        for message in list(self.messages):
            part = message.get_body(preferencelist=("plain",))
            text = part.get_content() if part is not None else ""
            found.append((str(message["subject"]), text))
        return found

    def __enter__(self) -> SmtpReceiver:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
