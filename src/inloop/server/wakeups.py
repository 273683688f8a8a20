"""Wake waiters the moment the rows they wait for are committed.

Every write names the topics it touches (`run:<id>`, `inputs:<id>`, `logs:<id>`, `scheduled`,
`inbox`). After commit the topics are set on this process's hub; with PostgreSQL they are also
sent with NOTIFY inside the writing transaction, so every replica's listener hears them at commit.
Waiters re-check the database now and then anyway, so a dropped notification costs latency,
never correctness.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any, TypeVar

__all__ = ["CHANNEL", "FALLBACK_RECHECK_SECONDS", "WakeupHub", "wait_until"]

T = TypeVar("T")
CHANNEL = "inloop"
FALLBACK_RECHECK_SECONDS = 5.0
log = logging.getLogger("inloop.server.wakeups")


class WakeupHub:
    """Topic -> the events of the waiters that care, in this process."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)
        self.closing = False

    def close(self) -> None:
        """The server is stopping: every waiter answers with what it has, now."""
        self.closing = True
        self.wake_all()

    def wake_all(self) -> None:
        for waiters in list(self._waiters.values()):
            for event in list(waiters):
                event.set()

    @contextlib.contextmanager
    def subscribe(self, topics: Iterable[str]) -> Iterator[asyncio.Event]:
        event = asyncio.Event()
        names = list(topics)
        for topic in names:
            self._waiters[topic].add(event)
        try:
            yield event
        finally:
            for topic in names:
                waiters = self._waiters.get(topic)
                if waiters is not None:
                    waiters.discard(event)
                    if not waiters:
                        del self._waiters[topic]

    def notify(self, topics: Iterable[str]) -> None:
        for topic in topics:
            for event in self._waiters.get(topic, ()):
                event.set()

    @property
    def waiter_count(self) -> int:
        return sum(len(w) for w in self._waiters.values())


async def wait_until(
    hub: WakeupHub,
    topics: Iterable[str],
    check: Callable[[], Awaitable[T | None]],
    timeout: float,
) -> T | None:
    """Return `check()`'s first non-None answer, re-checking whenever a topic fires.

    Subscribing before checking closes the gap between "nothing yet" and "start waiting": a
    commit that lands in between sets the event, so the next loop sees it.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(timeout, 0.0)
    with hub.subscribe(topics) as event:
        while True:
            event.clear()
            result = await check()
            remaining = deadline - loop.time()
            if result is not None or remaining <= 0 or hub.closing:
                return result
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(remaining, FALLBACK_RECHECK_SECONDS))


class PostgresListener:
    """Forward NOTIFY payloads on CHANNEL to the hub; reconnect when the connection drops."""

    def __init__(self, dsn: str, hub: WakeupHub) -> None:
        self._dsn = dsn
        self._hub = hub
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="inloop-pg-listener")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), 10)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self._hub.notify(payload.split(","))

    async def _run(self) -> None:
        import asyncpg  # only PostgreSQL deployments pay for this import

        while True:
            conn = None
            try:
                conn = await asyncpg.connect(self._dsn)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _conn, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, self._on_notify)
                self._ready.set()
                # Anything committed while we were away: wake everyone to re-check.
                self._hub.wake_all()
                await lost.wait()
                log.warning("LISTEN connection closed; reconnecting")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep listening through restarts of PostgreSQL
                log.warning("LISTEN connection lost (%s); reconnecting", exc)
                await asyncio.sleep(1)
            finally:
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.close()
