"""Console logging in inloop's format, and run logs shipped to the server in batches.

`get_run_logger()` returns a logger whose records carry the run's id; a handler puts them on a
queue, and a task on the I/O loop sends them in batches, so logging never waits for the network.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import sys
import threading
from datetime import UTC, datetime
from typing import Any

from inloop._dual import add_shutdown_hook, io_loop
from inloop.context import current_flow_run, get_run_context

__all__ = [
    "RunLogger",
    "flush_run_logs",
    "get_run_logger",
    "setup_console_logging",
    "truncate_message",
]

BATCH_SIZE = 500
BATCH_DELAY_SECONDS = 0.25
# One record's message is cut to this many characters (the server takes up to 1,000,000), and a
# batch stops growing past BATCH_CHARS, so one huge log line cannot push a batch over the
# server's request limit (INLOOP_MAX_REQUEST_BYTES, 16 MiB by default) and lose its neighbours.
MAX_MESSAGE_CHARS = 64 * 1024
BATCH_CHARS = 4 * 1024 * 1024
DATE_FORMAT = "%H:%M:%S"


class ConsoleFormatter(logging.Formatter):
    """`11:38:41.800 | INFO    | inloop.engine - message`; run records name the run instead."""

    def __init__(self) -> None:
        super().__init__(datefmt=DATE_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        run_name = getattr(record, "flow_run_name", None)
        source = f"Flow run '{run_name}'" if run_name and record.name != "inloop.engine" else (
            record.name
        )
        stamp = f"{self.formatTime(record, DATE_FORMAT)}.{int(record.msecs):03d}"
        text = f"{stamp} | {record.levelname:<7} | {source} - {record.getMessage()}"
        if record.exc_info:
            text = f"{text}\n{self.formatException(record.exc_info)}"
        return text


_console_ready = False


def setup_console_logging(level: str | int | None = None) -> None:
    """Show inloop's loggers on stderr once per process (never at import)."""
    global _console_ready
    if _console_ready:
        return
    _console_ready = True
    from inloop.settings import get_settings

    logger = logging.getLogger("inloop")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ConsoleFormatter())
    logger.addHandler(handler)
    logger.setLevel(level or get_settings().logging_level.upper())
    logger.propagate = False
    logger.addHandler(_shipper)


class _RunLogShipper(logging.Handler):
    """Queue records that belong to a flow run; ship them from the I/O loop in batches."""

    def __init__(self) -> None:
        super().__init__()
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._wake: asyncio.Event | None = None
        # One batch in flight at a time, so records are stored in the order they were logged
        # (the batching task and an end-of-run flush would otherwise race).
        self._shipping: asyncio.Lock | None = None
        self._task: asyncio.Task[None] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        run_id = getattr(record, "flow_run_id", None)
        if run_id is None:
            return
        try:
            message = record.getMessage()
            if record.exc_info:
                message = f"{message}\n{ConsoleFormatter().formatException(record.exc_info)}"
            entry = {
                "flow_run_id": str(run_id),
                "level": record.levelno,
                "logger": record.name,
                "message": truncate_message(message),
                "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            }
        except Exception:
            self.handleError(record)
            return
        with self._lock:
            self._pending.append(entry)
            first = len(self._pending) == 1
        if first:
            loop = io_loop()
            loop.call_soon_threadsafe(self._ensure_running)

    def _ensure_running(self) -> None:
        if self._wake is None:
            self._wake = asyncio.Event()
            add_shutdown_hook(self.ship)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        self._wake.set()

    def _take(self) -> list[dict[str, Any]]:
        with self._lock:
            count, chars = 0, 0
            for entry in self._pending[:BATCH_SIZE]:
                chars += len(entry["message"])
                if count and chars > BATCH_CHARS:
                    break
                count += 1
            batch, self._pending = self._pending[:count], self._pending[count:]
        return batch

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(BATCH_DELAY_SECONDS)
            await self.ship()

    async def ship(self) -> None:
        if self._shipping is None:
            self._shipping = asyncio.Lock()  # created on the I/O loop, its only user
        async with self._shipping:
            await self._ship_pending()

    async def _ship_pending(self) -> None:
        while batch := self._take():
            if not await self._store(batch):
                return

    async def _store(self, batch: list[dict[str, Any]]) -> bool:
        """Store `batch`; if the server refuses it as too big or invalid, store it in halves.

        False when the server cannot be reached (shipping stops until the next flush).
        """
        from inloop.client import InloopAPIError, get_client

        try:
            await get_client().send_logs.aio(batch)
            return True
        except InloopAPIError as exc:  # logs must never break the flow that wrote them
            if exc.status_code in (413, 422) and len(batch) > 1:
                half = len(batch) // 2
                return await self._store(batch[:half]) and await self._store(batch[half:])
            sys.stderr.write(f"inloop: the server refused {len(batch)} log record(s): {exc}\n")
            return True  # only these are lost; the records after them still go
        except Exception as exc:
            sys.stderr.write(f"inloop: could not ship {len(batch)} log records: {exc}\n")
            return False


def _size(chars: int) -> str:
    for unit, size in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if chars >= size:
            return f"{chars / size:.0f} {unit}"
    return f"{chars} B"


def truncate_message(message: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`message`, cut to `limit` characters with a marker saying how much was left out."""
    if len(message) <= limit:
        return message
    return f"{message[:limit]}… [truncated {_size(len(message))} → {_size(limit)}]"


_shipper = _RunLogShipper()


async def flush_run_logs() -> None:
    """Ship every queued run log record now (called on the I/O loop at the end of a run)."""
    await _shipper.ship()


class RunLogger(logging.LoggerAdapter[logging.Logger]):
    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        extra = dict(self.extra or {})
        extra.update(kwargs.get("extra") or {})
        kwargs["extra"] = extra
        return msg, kwargs


def get_run_logger(name: str = "inloop.flow_runs") -> RunLogger:
    """A logger whose records go to the console and to the current flow run's log."""
    context = get_run_context()
    setup_console_logging()
    return RunLogger(
        logging.getLogger(name),
        {"flow_run_id": str(context.flow_run.id), "flow_run_name": context.flow_run.name},
    )


_original_print = builtins.print
_print_patched = False


def _print_to_log(*args: Any, **kwargs: Any) -> None:
    context = current_flow_run()
    file = kwargs.get("file")
    if context is None or not context.log_prints or file not in (None, sys.stdout):
        _original_print(*args, **kwargs)
        return
    sep = kwargs.get("sep", " ")
    sep = " " if sep is None else sep
    get_run_logger("inloop.flow_runs").info(sep.join(str(a) for a in args))


def capture_prints() -> None:
    """Route print() inside flows with log_prints=True to the run log (others print as usual)."""
    global _print_patched
    if not _print_patched:
        _print_patched = True
        builtins.print = _print_to_log
