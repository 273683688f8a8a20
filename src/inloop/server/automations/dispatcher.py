"""The dispatcher: claims due deliveries, acts on each, records the outcome, retries.

One per server process, started and stopped with the app. It wakes when deliveries are
written (the hub's `deliveries` topic; NOTIFY on PostgreSQL reaches every replica), when one of
its own deliveries finishes, and at the next due time; a slow poll is only the fallback.
Actions run outside any transaction, a bounded number at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx

from inloop.server.automations.actions import ActionFailed, Context, perform
from inloop.server.automations.egress import EgressPolicy
from inloop.server.database.engine import Database, Tx
from inloop.server.database.schema import utcnow
from inloop.server.link_tokens import LinkTokens
from inloop.server.store import deliveries, runs
from inloop.server.store.deliveries import Delivery
from inloop.settings import Settings

__all__ = ["Dispatcher", "public_ui_url", "retry_delay"]

log = logging.getLogger("inloop.server.automations")
_Change = Callable[[Tx], Awaitable[None]]
IDLE_FLOOR_SECONDS = 0.2  # never spin: a due row we cannot take yet is re-checked this often


class _Skip(Exception):
    """The delivery is no longer wanted (the run moved on, the automation was disabled)."""


def public_ui_url(settings: Settings) -> str:
    """Where people reach the UI, for links in notifications (INLOOP_UI_URL if set)."""
    if settings.ui_url:
        return settings.ui_url.rstrip("/")
    host = settings.server_host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.server_port}"


def retry_delay(settings: Settings, attempts: int) -> float:
    """Exponential backoff: the first retry after automation_retry_seconds, doubling."""
    delay = settings.automation_retry_seconds * (2 ** max(attempts - 1, 0))
    return float(min(delay, settings.automation_retry_max_seconds))


class Dispatcher:
    def __init__(
        self, db: Database, settings: Settings, link_tokens: LinkTokens | None = None
    ) -> None:
        self._db = db
        self._settings = settings
        self._link_tokens = link_tokens
        self._busy: dict[str, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._http: httpx.AsyncClient | None = None
        self._egress = EgressPolicy.from_settings(settings)

    async def start(self) -> None:
        # No proxies from the environment (the egress policy judges the real target), and no
        # connection reuse: a pinned connection belongs to the one delivery that checked it.
        self._http = httpx.AsyncClient(
            follow_redirects=False, trust_env=False,
            limits=httpx.Limits(max_keepalive_connections=0),
        )
        self._task = asyncio.create_task(self._run(), name="inloop-automations")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        busy = list(self._busy.values())
        ids = list(self._busy)
        for task in busy:
            task.cancel()
        await asyncio.gather(*busy, return_exceptions=True)
        if ids:
            # Interrupted, not lost: a server started again sends them at once, without
            # waiting for the leases to run out.
            with contextlib.suppress(Exception):
                async with self._db.transaction() as tx:
                    await deliveries.release(tx, ids)
        if self._http is not None:
            await self._http.aclose()

    def _context(self) -> Context:
        assert self._http is not None
        s = self._settings
        return Context(
            db=self._db,
            http=self._http,
            ui_url=public_ui_url(s),
            timeout=s.automation_timeout_seconds,
            paused_grace=s.paused_heartbeat_grace_seconds,
            egress=self._egress,
            link_tokens=self._link_tokens,
        )

    async def _run(self) -> None:
        with self._db.hub.subscribe([deliveries.TOPIC]) as written:
            while True:
                written.clear()
                self._wake.clear()
                try:
                    timeout = await self._claim_and_start()
                except asyncio.CancelledError:
                    raise
                except Exception:  # the dispatcher must outlive a database hiccup
                    log.exception("claiming deliveries failed; retrying")
                    timeout = 1.0
                if timeout <= 0:
                    continue
                waits = [asyncio.ensure_future(written.wait()),
                         asyncio.ensure_future(self._wake.wait())]
                try:
                    await asyncio.wait(waits, timeout=timeout,
                                       return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiter in waits:
                        waiter.cancel()

    async def _claim_and_start(self) -> float:
        """Start what is due; return how long to wait before looking again (0: at once)."""
        s = self._settings
        free = s.automation_concurrency - len(self._busy)
        if free <= 0:
            return s.automation_poll_seconds  # a finishing delivery wakes us
        async with self._db.transaction() as tx:
            claimed = await deliveries.claim_due(
                tx, free, s.automation_lease_seconds, self._busy.keys()
            )
        for delivery in claimed:
            task = asyncio.create_task(self._deliver(delivery), name=f"delivery-{delivery.id}")
            self._busy[delivery.id] = task
            task.add_done_callback(self._finished)
        if claimed and len(claimed) == free:
            return 0 if len(self._busy) < s.automation_concurrency else s.automation_poll_seconds
        async with self._db.read() as conn:
            upcoming = await deliveries.next_wake(conn)
        if upcoming is None:
            return s.automation_poll_seconds
        seconds = (upcoming - utcnow()).total_seconds()
        return min(max(seconds, IDLE_FLOOR_SECONDS), s.automation_poll_seconds)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._busy.pop(task.get_name().removeprefix("delivery-"), None)
        self._wake.set()

    async def _deliver(self, delivery: Delivery) -> None:
        started = utcnow()
        clock = time.monotonic()
        error: ActionFailed | None = None
        try:
            await asyncio.wait_for(
                self._act(delivery), timeout=self._settings.automation_timeout_seconds
            )
        except _Skip as exc:
            reason = str(exc)
            await self._write(delivery, lambda tx: deliveries.mark_skipped(tx, delivery, reason))
            return
        except ActionFailed as exc:
            error = exc
        except TimeoutError:
            error = ActionFailed(
                f"the action took longer than {self._settings.automation_timeout_seconds:g} s "
                "(INLOOP_AUTOMATION_TIMEOUT_SECONDS)"
            )
        except asyncio.CancelledError:
            # The server is stopping: the lease runs out and the row is claimed again.
            raise
        except Exception as exc:
            log.exception("automation %r: delivery %s failed unexpectedly",
                          delivery.automation_name, delivery.id)
            error = ActionFailed(f"unexpected error: {exc!r}")
        duration_ms = int((time.monotonic() - clock) * 1000)
        if error is None:
            await self._write(
                delivery, lambda tx: deliveries.mark_delivered(tx, delivery, started, duration_ms)
            )
            return
        attempts = delivery.attempts
        limit = self._settings.automation_max_attempts
        message = str(error)
        if error.retry and attempts < limit:
            due = utcnow() + timedelta(seconds=retry_delay(self._settings, attempts))
            await self._write(
                delivery,
                lambda tx: deliveries.retry_later(tx, delivery, message, started, duration_ms,
                                                  due),
            )
            return
        if error.retry:
            message = f"{message} (gave up after {attempts} attempts)"
        log.warning("automation %r: delivery %s failed: %s",
                    delivery.automation_name, delivery.id, message)
        await self._write(
            delivery, lambda tx: deliveries.mark_failed(tx, delivery, message, started,
                                                        duration_ms)
        )

    async def _write(self, delivery: Delivery, change: _Change) -> None:
        try:
            async with self._db.transaction() as tx:
                await change(tx)
        except Exception:
            # Unrecorded: the lease expires and the delivery is tried again (at-least-once).
            log.exception("could not record the outcome of delivery %s", delivery.id)

    async def _act(self, delivery: Delivery) -> None:
        spec = delivery.spec
        if spec is None:
            raise ActionFailed(
                f"automation {delivery.automation_name!r}: {delivery.spec_error}", retry=False
            )
        if not delivery.enabled:
            raise _Skip(f"automation {delivery.automation_name!r} is disabled")
        action = delivery.action
        if action is None:
            raise ActionFailed(
                f"automation {delivery.automation_name!r} was changed after this delivery was "
                f"planned: it has no action {delivery.action_index + 1} any more",
                retry=False,
            )
        run = None
        if delivery.flow_run_id is not None:
            async with self._db.read() as conn:
                run = await runs.read_run(conn, delivery.flow_run_id)
                # A delayed delivery (after:, reminders, escalation) is for a run still waiting
                # when it fell due; judged on the first try (a retry finishes what was owed).
                waited = delivery.stage != 0 or spec.trigger.after is not None
                if (
                    waited
                    and delivery.attempts == 1
                    and run is not None
                    and not await deliveries.run_still_in(
                        conn, str(run.id), delivery.state_id, delivery.due
                    )
                ):
                    raise _Skip(
                        f"flow run '{run.name}' left the state of the {delivery.event_kind} "
                        f"event (now {run.state.name})"
                    )
        await perform(delivery, action, run, self._context())
