"""The one dual-call rule: an awaitable inside a running loop, the result outside."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import inspect
import threading

import pytest

from inloop._dual import call_off_loop, dual, loop_is_running, run_sync

# Awaits @dual functions the way the seed examples do: right at run time, reported by a type
# checker (see inloop._dual), hence the `type: ignore[misc]` on those lines.

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="unset")


@dual
async def where_am_i(tag: str) -> tuple[str, str, str]:
    await asyncio.sleep(0)
    return tag, threading.current_thread().name, request_id.get()


@dual
async def explode(message: str) -> None:
    raise LookupError(message)


@dual
async def nested() -> str:
    # On the I/O loop a dual function hands back its coroutine, so composition just awaits.
    inner = where_am_i("inner")
    assert inspect.iscoroutine(inner)
    tag, _, _ = await inner
    return tag


@dual
async def blocking_inside() -> None:
    run_sync(asyncio.sleep(0))


def test_outside_a_loop_returns_the_value() -> None:
    tag, thread, _ = where_am_i("sync")
    assert tag == "sync"
    assert thread == "inloop-io"


async def test_inside_a_running_loop_returns_an_awaitable() -> None:
    pending = where_am_i("async")
    assert inspect.isawaitable(pending)
    tag, thread, _ = await pending
    assert (tag, thread) == ("async", "inloop-io")


async def test_a_thread_without_a_loop_gets_the_value_even_while_another_loop_runs() -> None:
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        tag, _, _ = await asyncio.wrap_future(pool.submit(where_am_i, "worker"))
    assert tag == "worker"


def test_context_variables_travel_to_the_io_loop_sync() -> None:
    token = request_id.set("sync-42")
    try:
        assert where_am_i("x")[2] == "sync-42"
    finally:
        request_id.reset(token)
    assert where_am_i("x")[2] == "unset"


async def test_context_variables_travel_to_the_io_loop_async() -> None:
    token = request_id.set("async-42")
    try:
        assert (await where_am_i("x"))[2] == "async-42"  # type: ignore[misc]
    finally:
        request_id.reset(token)


def test_exceptions_propagate_sync() -> None:
    with pytest.raises(LookupError, match="sync boom"):
        explode("sync boom")


async def test_exceptions_propagate_async() -> None:
    with pytest.raises(LookupError, match="async boom"):
        await explode("async boom")  # type: ignore[misc]


def test_plain_async_twin_is_kept() -> None:
    assert inspect.iscoroutinefunction(where_am_i.aio)
    assert where_am_i.__name__ == "where_am_i"


async def test_plain_async_twin_runs_on_the_callers_loop() -> None:
    _, thread, _ = await where_am_i.aio("direct")
    assert thread == threading.current_thread().name


def test_composition_on_the_io_loop() -> None:
    assert nested() == "inner"


def test_blocking_on_the_io_loop_is_refused_with_a_reason() -> None:
    with pytest.raises(RuntimeError, match="await the coroutine instead"):
        blocking_inside()


async def test_cancelling_the_awaiting_task_cancels_the_io_loop_call() -> None:
    started = threading.Event()
    finished = threading.Event()

    @dual
    async def slow() -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        finally:
            finished.set()

    # The dual called in a loop gives an awaitable (typed as its sync result, None).
    task = asyncio.ensure_future(slow())  # type: ignore[call-overload]
    await asyncio.to_thread(started.wait, 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(finished.wait, 5)


def _probe() -> tuple[str, bool, str, str]:
    tag, _, _ = where_am_i("inner")  # a result, not a coroutine: no loop runs on this thread
    return threading.current_thread().name, loop_is_running(), request_id.get(), tag


async def test_sync_code_called_inside_a_running_loop_gets_a_thread_without_one() -> None:
    token = request_id.set("ctx-7")
    try:
        name, running, seen, tag = call_off_loop(_probe, "inloop-probe")
    finally:
        request_id.reset(token)
    assert name.startswith("inloop-probe")
    assert (running, seen, tag) == (False, "ctx-7", "inner")


def test_sync_code_called_without_a_loop_runs_on_this_thread() -> None:
    name, running, _, tag = call_off_loop(_probe, "inloop-probe")
    assert (name, running, tag) == (threading.current_thread().name, False, "inner")


class _Counter:
    def __init__(self) -> None:
        self.count = 0

    @dual
    async def bump(self, by: int) -> int:
        self.count += by
        return self.count


def test_a_dual_method_binds_like_a_method_and_so_does_its_plain_form() -> None:
    counter = _Counter()
    assert counter.bump(2) == 2
    assert run_sync(counter.bump.aio(3)) == 5
    assert _Counter.bump(counter, 1) == 6
    assert counter.bump.__name__ == "bump"
