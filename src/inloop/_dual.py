"""The one dual-call rule, in one place.

    A public function of the interactive API returns an awaitable when it is called on a thread
    whose event loop is running, and its result otherwise.

All of inloop's HTTP I/O runs on one background event loop per process (the "I/O loop"), which
owns the connection pool. An async caller awaits a hop onto that loop; a sync caller blocks on it.
The caller's context variables (the current flow run) travel with each call. Sync flows run on a
thread with no running loop, so inside a flow the rule is never ambiguous.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextvars
import functools
import threading
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

__all__ = ["async_twin", "dual", "io_loop", "loop_is_running", "on_io_loop", "run_sync"]

P = ParamSpec("P")
T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None
_lock = threading.Lock()
_shutdown_hooks: list[Callable[[], Coroutine[Any, Any, None]]] = []


def io_loop() -> asyncio.AbstractEventLoop:
    """The process's I/O loop, started on first use (never at import)."""
    global _loop, _thread
    if _loop is not None:
        return _loop
    with _lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            _thread = threading.Thread(target=run, name="inloop-io", daemon=True)
            _thread.start()
            ready.wait()
            _loop = loop
            atexit.register(_stop)
    return _loop


def add_shutdown_hook(hook: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run `hook()` on the I/O loop at interpreter exit (flush logs, close connections)."""
    _shutdown_hooks.append(hook)


def _stop() -> None:
    loop = _loop
    if loop is None or not loop.is_running():
        return

    async def shutdown() -> None:
        for hook in reversed(_shutdown_hooks):
            try:
                await asyncio.wait_for(hook(), 10)
            except Exception:  # exiting anyway; one failed hook must not block the rest
                pass

    try:
        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(15)
    except Exception:
        pass
    loop.call_soon_threadsafe(loop.stop)
    if _thread is not None:
        _thread.join(5)


def _on_io_thread() -> bool:
    return _thread is not None and threading.current_thread() is _thread


class _Submitted:
    """A coroutine started on the I/O loop, with a handle to cancel it from any thread."""

    def __init__(self, coro: Coroutine[Any, Any, T]) -> None:
        loop = io_loop()
        self.future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._task: asyncio.Task[Any] | None = None
        self._loop = loop
        context = contextvars.copy_context()

        def start() -> None:
            if not self.future.set_running_or_notify_cancel():
                coro.close()
                return
            self._task = loop.create_task(coro, context=context)
            self._task.add_done_callback(self._finish)

        loop.call_soon_threadsafe(start)

    def _finish(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            self.future.set_exception(concurrent.futures.CancelledError())
        elif (exc := task.exception()) is not None:
            self.future.set_exception(exc)
        else:
            self.future.set_result(task.result())

    def cancel(self) -> None:
        def cancel_task() -> None:
            if self._task is not None:
                self._task.cancel()

        self._loop.call_soon_threadsafe(cancel_task)


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` on the I/O loop and block this thread until it finishes."""
    if _on_io_thread():
        coro.close()
        raise RuntimeError("run_sync() called on inloop's I/O loop; await the coroutine instead")
    submitted = _Submitted(coro)
    try:
        return submitted.future.result()  # type: ignore[no-any-return]
    except KeyboardInterrupt:
        submitted.cancel()
        raise


async def on_io_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Await `coro` on the I/O loop from any event loop."""
    if _on_io_thread():
        return await coro
    submitted = _Submitted(coro)
    try:
        return await asyncio.wrap_future(submitted.future)  # type: ignore[no-any-return]
    except asyncio.CancelledError:
        submitted.cancel()
        raise


def loop_is_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def dual(fn: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, Any]:
    """Apply the dual-call rule to an async function (its plain form stays at `.aio`)."""

    @functools.wraps(fn)
    def call(*args: P.args, **kwargs: P.kwargs) -> Any:
        coro = fn(*args, **kwargs)
        if _on_io_thread():
            return coro
        if loop_is_running():
            return on_io_loop(coro)
        return run_sync(coro)

    call.aio = fn  # type: ignore[attr-defined]
    return call


def async_twin(dual_fn: Callable[P, Any]) -> Callable[P, Coroutine[Any, Any, Any]]:
    """The explicit `*_async` form of a dual function: a coroutine function, on any thread.

    For code that wants no rule at all: `await send_input_async(...)` is always awaitable.
    """
    impl: Callable[P, Coroutine[Any, Any, Any]] = dual_fn.aio  # type: ignore[attr-defined]

    @functools.wraps(impl)
    async def twin(*args: P.args, **kwargs: P.kwargs) -> Any:
        return await on_io_loop(impl(*args, **kwargs))

    twin.__name__ = f"{dual_fn.__name__}_async"
    twin.__qualname__ = f"{dual_fn.__qualname__}_async"
    return twin

