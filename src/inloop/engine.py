"""Runs one flow run: creates it, moves it through its states, keeps its context and logs.

A flow function runs on the caller's thread when no event loop is running there (sync flows),
on a worker thread when one is, and as a coroutine on the caller's loop (async flows). Every
talk with the server happens on the I/O loop (see `inloop._dual`).
"""

from __future__ import annotations

import _thread
import asyncio
import contextlib
import ctypes
import logging
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from inloop import context as run_context
from inloop._dual import add_shutdown_hook, call_off_loop, on_io_loop, run_sync
from inloop.client import InloopAPIError, RunOver, get_client
from inloop.logging import capture_prints, flush_run_logs, setup_console_logging
from inloop.schemas import FlowRun, FlowRunWithToken, StateType
from inloop.settings import get_settings

__all__ = [
    "FlowRunCancelled",
    "FlowRunSuspended",
    "run_flow_async",
    "run_flow_sync",
    "view_url",
    "waiting_on_pause",
]

log = logging.getLogger("inloop.engine")


class FlowRunSuspended(BaseException):  # a signal, not an error
    """Raised by suspend_flow_run to end this process's execution of the run cleanly.

    A BaseException, so a flow's `except Exception` does not swallow it.
    """


class FlowRunCancelled(BaseException):  # a signal, not an error
    """The run was cancelled (from the CLI, the UI or the API) while this process executed it.

    Raised into the flow where it runs, so its process stops instead of working on for nobody:
    a paused flow's wait is woken by the cancel, a running one learns of it at its next heartbeat
    and is interrupted like Ctrl-C interrupts it. A BaseException, so a flow's `except Exception`
    does not swallow it; uncaught, it ends the program with one line (logged by the engine) and
    no traceback.
    """

    def __init__(self, run_id: str, run_name: str, by: str, where: str) -> None:
        super().__init__(f"flow run '{run_name}' was cancelled {by} {where}")
        self.run_id = run_id
        self.run_name = run_name
        self.by = by
        self.where = where

    @classmethod
    def of(cls, run: FlowRun, where: str = "while running") -> FlowRunCancelled:
        who = run.state.details.get("cancelled_by")
        by = f"by {who}" if who else f"({run.state.message or 'no reason given'})"
        return cls(str(run.id), run.name, by, where)


class _Heartbeats:
    """Tell the server which runs this process is still executing, and hear which of them were
    cancelled meanwhile (the heartbeat's answer says so) to stop them.

    A run waiting on a pause beats at its own interval; its wait is woken by a cancel, so only
    running runs are stopped from here (see `stop_on_cancel`).
    """

    def __init__(self) -> None:
        self.active: set[str] = set()
        self.paused: set[str] = set()
        # How to interrupt the code executing each running run (see `_stopper`).
        self.stoppers: dict[str, Callable[[], None]] = {}
        self.cancelled: dict[str, FlowRunCancelled] = {}
        self._task: asyncio.Task[None] | None = None
        self._lock = threading.Lock()

    def add(self, run_id: str) -> None:
        with self._lock:
            self.active.add(run_id)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._beat())

    def discard(self, run_id: str) -> None:
        with self._lock:
            self.active.discard(run_id)
            self.paused.discard(run_id)
            self.stoppers.pop(run_id, None)
            self.cancelled.pop(run_id, None)

    @contextlib.contextmanager
    def waiting_on_pause(self, run_id: str) -> Iterator[None]:
        with self._lock:
            self.paused.add(run_id)
        try:
            yield
        finally:
            with self._lock:
                self.paused.discard(run_id)

    @contextlib.contextmanager
    def stop_on_cancel(self, run_id: str) -> Iterator[None]:
        """While inside, a cancel of `run_id` interrupts the code running on this thread/task."""
        with self._lock:
            self.stoppers[run_id] = _stopper()
        try:
            yield
        finally:
            with self._lock:
                self.stoppers.pop(run_id, None)

    def cancellation(self, run_id: str) -> FlowRunCancelled | None:
        """The cancel that interrupted `run_id`'s code: its own, or (a subflow's code runs in
        its parent's thread or task) that of another run of this process."""
        with self._lock:
            found = self.cancelled.get(run_id)
            return found or next(iter(self.cancelled.values()), None)

    async def _beat(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            settings = get_settings()
            interval = settings.heartbeat_interval_seconds
            await asyncio.sleep(min(interval, settings.paused_heartbeat_interval_seconds))
            with self._lock:
                ids = list(self.active)
                paused = bool(self.paused)
            due = settings.paused_heartbeat_interval_seconds if paused else interval
            if not ids or loop.time() - last < due:
                continue
            last = loop.time()
            try:
                stopped = await get_client().heartbeat.aio(ids)
            except Exception as exc:  # the server may be restarting; try again next beat
                log.debug("heartbeat failed: %s", exc)
                continue
            for run_id, state in stopped.items():
                if state is StateType.CANCELLED:
                    await self._stop(run_id)

    async def _stop(self, run_id: str) -> None:
        """The run was cancelled: interrupt the code running it, unless a pause's wait (which
        the cancel wakes) will stop it anyway."""
        try:
            run: FlowRun = await get_client().read_flow_run.aio(run_id)
        except Exception as exc:  # next beat tries again
            log.debug("could not read cancelled run %s: %s", run_id, exc)
            return
        with self._lock:
            stopper = self.stoppers.get(run_id)
            if stopper is None or run_id in self.paused or run_id in self.cancelled:
                return
            self.cancelled[run_id] = FlowRunCancelled.of(run)
            stopper()


def _stopper() -> Callable[[], None]:
    """How another thread interrupts the flow code running here: an async flow's task is
    cancelled; a sync flow on the main thread gets a KeyboardInterrupt as from Ctrl-C (which
    also ends a sleep or a wait); on another thread it is raised at its next Python line."""
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no running loop on this thread
        task = None
    if task is not None:
        loop = task.get_loop()

        def cancel_task() -> None:
            loop.call_soon_threadsafe(task.cancel)

        return cancel_task
    if threading.current_thread() is threading.main_thread() and callable(
        signal.getsignal(signal.SIGINT)
    ):
        return _thread.interrupt_main
    ident = threading.get_ident()

    def raise_there() -> None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(ident), ctypes.py_object(KeyboardInterrupt)
        )

    return raise_there


_heartbeats = _Heartbeats()
waiting_on_pause = _heartbeats.waiting_on_pause


async def _stopped_by_cancel(run: FlowRun, cancel: FlowRunCancelled) -> None:
    """The run is CANCELLED already (that is how we learned of it): say so in one line.

    A run stopped by another run's cancel (its parent's, or that of a subflow it called) is
    recorded CANCELLED too, naming that cancel.
    """
    _heartbeats.discard(str(run.id))
    run_logger = logging.getLogger("inloop.flow_runs")
    extra = {"flow_run_id": str(run.id), "flow_run_name": run.name}
    if cancel.run_id == str(run.id):
        run_logger.warning("Cancelled %s %s; this process stops", cancel.by, cancel.where,
                           extra=extra)
    else:
        run_logger.warning("Stopped because %s", cancel, extra=extra)
        try:
            await get_client().set_flow_run_state.aio(
                run.id,
                StateType.CANCELLED,
                message=f"stopped because {cancel}",
                details={"cancelled_by": f"cancel of flow run '{cancel.run_name}'"},
            )
        except InloopAPIError as error:
            if error.status_code != 409:
                raise
    await flush_run_logs()
    _quiet_exit(FlowRunCancelled)


def view_url(run: FlowRun) -> str:
    """The run's page in the web UI."""
    return f"{get_settings().resolved_ui_url}/runs/{run.id}"


async def _begin(
    flow: run_context.FlowLike, parameters: dict[str, Any], flow_run_id: str | None
) -> FlowRun:
    """Create (or, for a runner, take over) the run and move it to RUNNING."""
    client = get_client()
    if flow_run_id is None:
        parent = run_context.current_flow_run()
        run: FlowRun = await client.create_flow_run.aio(
            flow.name,
            parameters=_jsonable(parameters),
            state=StateType.RUNNING,
            parent_flow_run_id=parent.flow_run.id if parent else None,
        )
        log.info("Created flow run '%s' for flow '%s'", run.name, flow.name)
    else:
        run = await client.read_flow_run.aio(flow_run_id)
        if run.state.type is not StateType.RUNNING:
            run = await client.set_flow_run_state.aio(run.id, StateType.RUNNING)
        log.info("Executing flow run '%s' for flow '%s'", run.name, flow.name)
    # Shown as "Flow run 'name' - View at ...", like the run's own records (console only).
    logging.getLogger("inloop.flow_runs").info(
        "View at %s", view_url(run), extra={"flow_run_name": run.name}
    )
    _heartbeats.add(str(run.id))
    return run


async def _finish(
    run: FlowRun, state: StateType, message: str | None = None
) -> None:
    _heartbeats.discard(str(run.id))
    await flush_run_logs()
    try:
        await _record_end(run, state, message)
    finally:
        run_context.release_run_token(run.id)


async def _record_end(run: FlowRun, state: StateType, message: str | None) -> None:
    if state is StateType.SUSPENDED:
        return
    client = get_client()
    if state is StateType.FAILED and await _is_suspended(run):
        # Suspended from elsewhere while it ran: the suspension stands, whatever broke since.
        log.info("Flow run '%s' was suspended while it ran; leaving it suspended", run.name)
        return
    try:
        await client.set_flow_run_state.aio(run.id, state, message=message)
    except InloopAPIError as exc:
        # The run moved on without us (cancelled, crashed, timed out): its state says why.
        # (Speaking as the run, the server says the run is over instead: 401 RunOver.)
        if exc.status_code != 409 and not isinstance(exc, RunOver):
            raise
        log.warning("Flow run '%s' could not be marked %s: %s", run.name, state.value, exc.detail)


async def _interrupt(run: FlowRun, exc: BaseException) -> None:
    """Ctrl-C (or a cancelled task): record the run CANCELLED and say so in one line.

    CANCELLED, not CRASHED: a person stopped the run on purpose; nothing broke. CRASHED stays
    for runs whose process vanished without a word (killed, machine lost).
    """
    _heartbeats.discard(str(run.id))
    client = get_client()
    where = "while running"
    try:
        current: FlowRun = await client.read_flow_run.aio(run.id)
        if current.state.type in (StateType.PAUSED, StateType.SUSPENDED):
            key = f" (key {current.pause.key})" if current.pause else ""
            where = f"while {current.state.name.lower()}{key}"
    except Exception:  # cannot tell where it stood: the interruption is recorded all the same
        pass
    if isinstance(exc, KeyboardInterrupt):
        how = "Ctrl-C (KeyboardInterrupt)"
    else:
        how = "task cancellation (asyncio.CancelledError, e.g. Ctrl-C under asyncio.run)"
    message = f"interrupted by {how} {where}"
    logging.getLogger("inloop.flow_runs").warning(
        "Interrupted by %s %s; marked Cancelled",
        how,
        where,
        extra={"flow_run_id": str(run.id), "flow_run_name": run.name},
    )
    await flush_run_logs()
    try:
        await client.set_flow_run_state.aio(
            run.id, StateType.CANCELLED, message=message, details={"cancelled_by": "interrupt"}
        )
    except InloopAPIError as error:
        if error.status_code != 409 and not isinstance(error, RunOver):
            raise
        # Already final (cancelled from the UI meanwhile, ...): that state stands.
    finally:
        run_context.release_run_token(run.id)
    _quiet_keyboard_interrupt()


def _quiet_keyboard_interrupt() -> None:
    """After the one line above, the KeyboardInterrupt that ends the process prints nothing.

    The process still ends the way an interrupted program should (killed by SIGINT: exit
    status 130 in a shell); only Python's traceback for it is left out.
    """
    _quiet_exit(KeyboardInterrupt)


def _quiet_exit(kind: type[BaseException]) -> None:
    """An uncaught `kind` ends the program without a traceback (its line was logged)."""
    previous = sys.excepthook
    quiet: tuple[type[BaseException], ...] = getattr(previous, "_inloop_quiet", ())
    if kind in quiet:
        return
    original = getattr(previous, "_inloop_previous", previous)
    quiet = (*quiet, kind)

    def hook(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
        if not issubclass(exc_type, quiet):
            original(exc_type, exc, tb)

    hook._inloop_quiet = quiet  # type: ignore[attr-defined]
    hook._inloop_previous = original  # type: ignore[attr-defined]
    sys.excepthook = hook


async def _is_suspended(run: FlowRun) -> bool:
    try:
        current: FlowRun = await get_client().read_flow_run.aio(run.id)
    except Exception:  # cannot tell: go on and report the failure
        return False
    return current.state.is_suspended()


def _jsonable(parameters: dict[str, Any]) -> dict[str, Any]:
    from pydantic_core import to_jsonable_python

    return {k: to_jsonable_python(v, fallback=repr) for k, v in parameters.items()}


def _failure_message(exc: BaseException) -> str:
    return f"Flow run encountered an exception: {type(exc).__name__}: {exc}"


def _context_for(flow: run_context.FlowLike, run: FlowRun) -> run_context.FlowRunContext:
    if flow.log_prints:
        capture_prints()
    # A run created here came with its token; a run a runner claimed gets it from the runner.
    token = run.run_token if isinstance(run, FlowRunWithToken) else get_settings().run_token
    # Held for the whole process too: its heartbeats, log shipping and final state go out
    # from the I/O loop, outside the run's context, and must still speak as the run.
    run_context.hold_run_token(run.id, token)
    return run_context.FlowRunContext(
        flow_run=run, flow=flow, log_prints=flow.log_prints, run_token=token
    )


def _log_failure(run: FlowRun, exc: BaseException) -> None:
    run_logger = logging.getLogger("inloop.flow_runs")
    extra = {"flow_run_id": str(run.id), "flow_run_name": run.name}
    run_logger.error(
        "%s\n%s",
        _failure_message(exc),
        "".join(traceback.format_exception(exc)).rstrip(),
        extra=extra,
    )


def _log_final(run: FlowRun, state: StateType) -> None:
    extra = {"flow_run_id": str(run.id), "flow_run_name": run.name}
    logging.getLogger("inloop.flow_runs").info(
        "Finished in state %s", state.display_name, extra=extra
    )


def run_flow_sync(
    flow: run_context.FlowLike,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    flow_run_id: str | None = None,
) -> Any:
    setup_console_logging()
    parameters = flow.bind_parameters(args, kwargs)
    run = run_sync(_begin(flow, parameters, flow_run_id))
    ctx = _context_for(flow, run)

    def call() -> Any:
        token = run_context.enter(ctx)
        try:
            with _heartbeats.stop_on_cancel(str(run.id)):
                return flow.fn(*args, **kwargs)
        finally:
            run_context.leave(token)

    try:
        result = call_off_loop(call, "inloop-flow")  # a sync flow called from async code too
    except FlowRunSuspended:
        run_sync(_finish(run, StateType.SUSPENDED))
        raise
    except FlowRunCancelled as exc:
        run_sync(_stopped_by_cancel(run, exc))
        raise
    except KeyboardInterrupt as exc:
        cancel = _heartbeats.cancellation(str(run.id))
        if cancel is not None:  # our own interrupt, for a cancel
            run_sync(_stopped_by_cancel(run, cancel))
            raise cancel from None
        run_sync(_interrupt(run, exc))
        raise
    except BaseException as exc:
        _log_failure(run, exc)
        run_sync(_finish(run, StateType.FAILED, _failure_message(exc)))
        raise
    _log_final(run, StateType.COMPLETED)
    run_sync(_finish(run, StateType.COMPLETED))
    return result


async def run_flow_async(
    flow: run_context.FlowLike,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    flow_run_id: str | None = None,
) -> Any:
    setup_console_logging()
    parameters = flow.bind_parameters(args, kwargs)
    run = await on_io_loop(_begin(flow, parameters, flow_run_id))
    ctx = _context_for(flow, run)
    token = run_context.enter(ctx)
    try:
        fn: Callable[..., Coroutine[Any, Any, Any]] = flow.fn
        with _heartbeats.stop_on_cancel(str(run.id)):
            result = await fn(*args, **kwargs)
    except FlowRunSuspended:
        await on_io_loop(_finish(run, StateType.SUSPENDED))
        raise
    except FlowRunCancelled as exc:
        await on_io_loop(_stopped_by_cancel(run, exc))
        raise
    except (KeyboardInterrupt, asyncio.CancelledError) as exc:
        cancel = _heartbeats.cancellation(str(run.id))
        if cancel is not None:  # our own task cancellation, for a cancel
            await on_io_loop(_stopped_by_cancel(run, cancel))
            raise cancel from None
        await on_io_loop(_interrupt(run, exc))
        raise
    except BaseException as exc:
        _log_failure(run, exc)
        await on_io_loop(_finish(run, StateType.FAILED, _failure_message(exc)))
        raise
    finally:
        run_context.leave(token)
    _log_final(run, StateType.COMPLETED)
    await on_io_loop(_finish(run, StateType.COMPLETED))
    return result


add_shutdown_hook(flush_run_logs)
