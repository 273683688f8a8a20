"""The one dual-call rule, in one place.

    A public function of the interactive API returns an awaitable when it is called on a thread
    whose event loop is running, and its result otherwise.

All of inloop's HTTP I/O runs on one background event loop per process (the "I/O loop"), which
owns the connection pool. An async caller awaits a hop onto that loop; a sync caller blocks on it.
The caller's context variables (the current flow run) travel with each call. Sync flows and tasks
run on a thread with no running loop (`call_off_loop`), so inside them the rule is never ambiguous.

What a type checker sees. No static type says "T, or an awaitable of T, depending on whether a
loop runs on this thread", and a union `T | Awaitable[T]` would make every caller narrow it, so a
`@dual` function is typed as its sync call, the one form a checker can check exactly:

- `client.read_flow_run(x)` is a `FlowRun` (`Dual.__call__` returns `T`): the exact type for sync
  code (the CLI, scripts, sync flows and tasks), which is most callers.
- Typed async code names the path it takes, each with its exact type: the `*_async` twins made by
  `async_twin` (`await pause_flow_run_async(...)`; the reference's `a*` names such as
  `asend_input` and `RunInput.asave` are the same objects); `await on_io_loop(m.aio(...))` for any
  dual method from any loop; `await m.aio(...)` in code already on the I/O loop (inloop's own).
- `await read_flow_run(x)` in async code keeps working at run time (the rule above; the seed
  examples rely on it), and a type checker reports it as awaiting a non-awaitable, pointing a
  typed caller at a twin. That is the one place the static view is narrower than the run time,
  and it errs towards an error, never towards a wrong type passing silently.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextvars
import functools
import threading
import types
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, Self, TypeVar, overload

__all__ = [
    "DUAL_TYPES",
    "Dual",
    "DualClassMethod",
    "add_shutdown_hook",
    "async_twin",
    "call_off_loop",
    "dual",
    "dual_classmethod",
    "io_loop",
    "loop_is_running",
    "on_io_loop",
    "run_sync",
]

P = ParamSpec("P")
P2 = ParamSpec("P2")
T = TypeVar("T")
S = TypeVar("S")
S2 = TypeVar("S2")

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
    """Whether this thread has a running event loop (the question the dual-call rule asks)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def call_off_loop(fn: Callable[[], T], thread_name: str) -> T:
    """Call the sync `fn` where the dual-call rule gives results, and return what it returns.

    Without a running loop that is here. Inside one (a sync flow or task called from async
    code), `fn` runs on a worker thread with no loop and a copy of this context, and this thread
    blocks until it is done: there, `pause_flow_run()` and friends return their results instead
    of coroutines the sync code would never await.
    """
    if not loop_is_running():
        return fn()
    with concurrent.futures.ThreadPoolExecutor(1, thread_name) as pool:
        return pool.submit(contextvars.copy_context().run, fn).result()


def _call_by_rule(coro: Coroutine[Any, Any, T]) -> Any:
    """The rule itself: the coroutine on the I/O loop, an awaitable in a loop, else the result."""
    if _on_io_thread():
        return coro
    if loop_is_running():
        return on_io_loop(coro)
    return run_sync(coro)


class Dual(Generic[P, T]):
    """A coroutine function that follows the dual-call rule; typed as its sync call (-> `T`).

    `.aio` is the plain coroutine function, which runs on the caller's loop. Used as a method it
    binds like a function (`client.read_flow_run` is a `Dual` of the remaining parameters).
    """

    __name__: str  # these three copied from the function by update_wrapper
    __qualname__: str
    __wrapped__: Callable[..., Any]

    def __init__(self, fn: Callable[P, Coroutine[Any, Any, T]]) -> None:
        self.aio = fn
        functools.update_wrapper(self, fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> T:
        # Typed as the sync result; see the module docstring for the async halves of the rule.
        return _call_by_rule(self.aio(*args, **kwargs))  # type: ignore[no-any-return]

    @overload
    def __get__(self, obj: None, owner: type[Any] | None = None) -> Self: ...

    @overload
    def __get__(
        self: Dual[Concatenate[S, P2], T], obj: S, owner: type[Any] | None = None
    ) -> Dual[P2, T]: ...

    def __get__(self, obj: Any, owner: type[Any] | None = None) -> Any:
        if obj is None:
            return self
        return Dual(types.MethodType(self.aio, obj))

    def __repr__(self) -> str:
        return f"<dual {self.aio!r}>"


class DualClassMethod(Generic[S, P, T]):
    """A dual class method (`@dual_classmethod`): bound to the class, then a `Dual`."""

    __name__: str  # these three copied from the function by update_wrapper
    __qualname__: str
    __wrapped__: Callable[..., Any]

    def __init__(self, fn: Callable[Concatenate[type[S], P], Coroutine[Any, Any, T]]) -> None:
        self.aio = fn
        # Name and docstring for help() and the twins; typeshed wants a callable target.
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    def __get__(self, obj: Any, owner: type[S2]) -> Dual[P, T]:
        return Dual(types.MethodType(self.aio, owner))  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"<dual classmethod {self.aio!r}>"


# For pydantic models with dual methods: `ConfigDict(ignored_types=DUAL_TYPES)`, so the methods
# are not taken for fields.
DUAL_TYPES: tuple[type, ...] = (Dual, DualClassMethod)


def dual(fn: Callable[P, Coroutine[Any, Any, T]]) -> Dual[P, T]:
    """Apply the dual-call rule to an async function or method (its plain form stays at `.aio`)."""
    return Dual(fn)


class DualConstructor(DualClassMethod[Any, P, Any]):
    """A dual class method that returns an instance of the class it is called on (`-> Self`).

    Only a type checker tells the two apart (`Name.load(...)` is a `Name`); at run time every
    dual class method is a plain `DualClassMethod`, which binds the same way.
    """

    def __get__(self, obj: Any, owner: type[S2]) -> Dual[P, S2]:
        return Dual(types.MethodType(self.aio, owner))  # type: ignore[arg-type]


@overload
def dual_classmethod(
    fn: Callable[Concatenate[type[S], P], Coroutine[Any, Any, S]],
) -> DualConstructor[P]: ...


@overload
def dual_classmethod(
    fn: Callable[Concatenate[type[S], P], Coroutine[Any, Any, T]],
) -> DualClassMethod[S, P, T]: ...


def dual_classmethod(fn: Any) -> Any:
    """The dual-call rule for a class method: put it above `@classmethod`.

    Its own name because a type checker sees the `@classmethod` below as a plain function whose
    first parameter is the class, and binds it only through `DualClassMethod.__get__`.
    """
    return DualClassMethod(fn.__func__ if isinstance(fn, classmethod) else fn)


class ConstructorTwin(Protocol[P]):
    """How a type checker sees the twin of a `DualConstructor`: a class method, typed per class."""

    def __get__(self, obj: Any, owner: type[S2]) -> Callable[P, Coroutine[Any, Any, S2]]: ...


# A DualConstructor is a DualClassMethod whose result is the class: the narrower overload first.
@overload
def async_twin(dual_fn: DualConstructor[P]) -> ConstructorTwin[P]: ...  # type: ignore[overload-overlap]


@overload
def async_twin(
    dual_fn: DualClassMethod[S, P, T],
) -> classmethod[S, P, Coroutine[Any, Any, T]]: ...


@overload
def async_twin(dual_fn: Dual[P, T]) -> Callable[P, Coroutine[Any, Any, T]]: ...


def async_twin(dual_fn: Any) -> Any:
    """The one way to make the explicit `*_async` form of a dual function or method.

    A coroutine function, on any thread, running on the I/O loop: `await send_input_async(...)`
    is always awaitable, and typed as exactly what it returns. Assign it as `<name>_async`; where
    the reference has an `a<name>` spelling (`asave`, `aload`, `asend_to`, `arespond`, `anext`,
    `asend_input`), that name is the same object (`tests/unit/test_dual_types.py` checks the pairs).
    """
    impl = dual_fn.aio

    @functools.wraps(impl)
    async def twin(*args: Any, **kwargs: Any) -> Any:
        return await on_io_loop(impl(*args, **kwargs))

    twin.__name__ = f"{dual_fn.__name__}_async"
    twin.__qualname__ = f"{dual_fn.__qualname__}_async"
    if isinstance(dual_fn, DualClassMethod):
        return classmethod(twin)
    return twin
