"""Runs one flow run: creates it, moves it through its states, keeps its context and logs.

A flow function runs on the caller's thread when no event loop is running there (sync flows),
on a worker thread when one is, and as a coroutine on the caller's loop (async flows). Every
talk with the server happens on the I/O loop (see `inloop._dual`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
import traceback
from collections.abc import Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any

from inloop import context as run_context
from inloop._dual import add_shutdown_hook, call_off_loop, on_io_loop, run_sync
from inloop.client import InloopAPIError, RunOver, get_client
from inloop.logging import capture_prints, flush_run_logs, setup_console_logging
from inloop.schemas import FlowRun, FlowRunWithToken, StateType
from inloop.settings import get_settings

if TYPE_CHECKING:
    from inloop.flows import Flow

__all__ = ["FlowRunSuspended", "run_flow_async", "run_flow_sync", "view_url", "waiting_on_pause"]

log = logging.getLogger("inloop.engine")


class FlowRunSuspended(BaseException):  # a signal, not an error
    """Raised by suspend_flow_run to end this process's execution of the run cleanly.

    A BaseException, so a flow's `except Exception` does not swallow it.
    """


class _Heartbeats:
    """Tell the server which runs this process is still executing: every few seconds, and every
    second or so while one of them waits on a pause (the server refuses a resume to a paused run
    whose process went quiet, so it must soon tell a dead process from a live one).
    """

    def __init__(self) -> None:
        self.active: set[str] = set()
        self.paused: set[str] = set()
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

    @contextlib.contextmanager
    def waiting_on_pause(self, run_id: str) -> Iterator[None]:
        with self._lock:
            self.paused.add(run_id)
        try:
            yield
        finally:
            with self._lock:
                self.paused.discard(run_id)

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
            if not ids or not (paused or loop.time() - last >= interval):
                continue
            last = loop.time()
            try:
                await get_client().heartbeat.aio(ids)
            except Exception as exc:  # the server may be restarting; try again next beat
                log.debug("heartbeat failed: %s", exc)


_heartbeats = _Heartbeats()
waiting_on_pause = _heartbeats.waiting_on_pause


def view_url(run: FlowRun) -> str:
    """The run's page in the web UI."""
    return f"{get_settings().resolved_ui_url}/runs/{run.id}"


async def _begin(
    flow: Flow[Any, Any], parameters: dict[str, Any], flow_run_id: str | None
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
    previous = sys.excepthook
    if getattr(previous, "_inloop_quiet", False):
        return

    def hook(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
        if not issubclass(exc_type, KeyboardInterrupt):
            previous(exc_type, exc, tb)

    hook._inloop_quiet = True  # type: ignore[attr-defined]
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


def _context_for(flow: Flow[Any, Any], run: FlowRun) -> run_context.FlowRunContext:
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
    flow: Flow[Any, Any],
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
            return flow.fn(*args, **kwargs)
        finally:
            run_context.leave(token)

    try:
        result = call_off_loop(call, "inloop-flow")  # a sync flow called from async code too
    except FlowRunSuspended:
        run_sync(_finish(run, StateType.SUSPENDED))
        raise
    except KeyboardInterrupt as exc:
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
    flow: Flow[Any, Any],
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
        result = await fn(*args, **kwargs)
    except FlowRunSuspended:
        await on_io_loop(_finish(run, StateType.SUSPENDED))
        raise
    except (KeyboardInterrupt, asyncio.CancelledError) as exc:
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
