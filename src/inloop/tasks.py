"""`@task`: a step whose result is stored per flow run, so a re-executed run does not redo it.

Inside a flow run, each task call has a key made of the task's name, its call index among calls
of that task in the run, and a hash of its arguments (`add-2-5f1c...`). The first execution
stores the result under that key; a run executed again after a suspension finds it and returns
it without calling the function. Outside a flow, a task is just its function.

Results travel as JSON. A task with a return annotation gets its stored result validated back to
that type (a model, a datetime, a tuple); without one, a re-executed run sees the JSON form.

A task may pause or suspend its flow run (`pause_flow_run`, `suspend_flow_run`): its result is
stored once the answer came and the function returned. Pause keys made inside a task carry the
task's key (`paused-approve-1-5f1c...-1`), so they stay put when a re-executed run skips the task.
A sync task called where an event loop runs (from an async flow) runs on a worker thread, like a
sync flow there, so the interactive API inside it returns results rather than awaitables.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import logging
import typing
from collections.abc import Callable, Coroutine
from typing import Any, Generic, ParamSpec, TypeVar, overload
from uuid import UUID

from inloop._dual import call_off_loop, on_io_loop, run_sync
from inloop.client import ConflictError, get_client
from inloop.context import current_flow_run, enter_task, leave_task
from inloop.engine import FlowRunCancelled, FlowRunSuspended
from inloop.input.types import slugify
from inloop.schemas import StateType

__all__ = ["Task", "TaskResultNotSerializable", "task"]

P = ParamSpec("P")
R = TypeVar("R")

log = logging.getLogger("inloop.engine")


class TaskResultNotSerializable(TypeError):
    """A task returned a value that cannot be stored as JSON."""


async def _stored_result(run_id: UUID, key: str) -> tuple[bool, Any]:
    """(True, result) when this task call already has a stored result, else (False, None).

    Raises FlowRunSuspended when the run was suspended from outside, FlowRunCancelled when it
    was cancelled: the task must not start.
    """
    client = get_client()
    try:
        return await client.read_task_result.aio(run_id, key)
    except ConflictError:
        # Rare, so one more read to be sure the conflict is the suspension (or a cancel).
        run = await client.read_flow_run.aio(run_id)
        if run.state.is_suspended():
            log.info("Flow run %s was suspended from outside; stopping before task '%s'",
                     run_id, key)
            raise FlowRunSuspended(key) from None
        if run.state.type is StateType.CANCELLED:
            raise FlowRunCancelled.of(run, where=f"before task '{key}'") from None
        raise


class Task(Generic[P, R]):
    def __init__(self, fn: Callable[P, R], name: str | None = None) -> None:
        if not callable(fn):
            raise TypeError(f"@task needs a function, got {fn!r}")
        self.fn = fn
        self.name = name or fn.__name__
        self.slug = slugify(self.name)
        self.is_async = inspect.iscoroutinefunction(fn)
        self.signature = inspect.signature(fn)
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"Task(name={self.name!r})"

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        context = current_flow_run()
        if context is None:
            return self.fn(*args, **kwargs)
        # The index is taken now, at call time, so concurrent calls keep their call order.
        key = f"{self.slug}-{context.next_index(f'task:{self.slug}')}-{self._digest(args, kwargs)}"
        run_id = context.flow_run.id
        if self.is_async:
            return self._run_async(run_id, key, args, kwargs)  # type: ignore[return-value]
        found, stored = run_sync(_stored_result(run_id, key))
        if found:
            restored: R = self._restore(stored)
            return restored
        result = self._call_sync(key, args, kwargs)
        store = get_client().store_task_result.aio
        run_sync(store(run_id, key, self.name, self._to_json(result)))
        return result

    def _call_sync(self, key: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> R:
        def call() -> R:
            token = enter_task(key)
            try:
                return self.fn(*args, **kwargs)
            finally:
                leave_task(token)

        return call_off_loop(call, "inloop-task")  # a sync task called from async code too

    async def _run_async(
        self, run_id: UUID, key: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        found, stored = await on_io_loop(_stored_result(run_id, key))
        if found:
            return self._restore(stored)
        fn: Callable[..., Coroutine[Any, Any, Any]] = self.fn  # type: ignore[assignment]
        token = enter_task(key)
        try:
            result = await fn(*args, **kwargs)
        finally:
            leave_task(token)
        store = get_client().store_task_result.aio
        await on_io_loop(store(run_id, key, self.name, self._to_json(result)))
        return result

    def _digest(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        from pydantic_core import to_jsonable_python

        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"task '{self.name}' called with bad arguments: {exc}") from None
        bound.apply_defaults()
        # Arguments that are not JSON hash by repr: equal values give equal keys, and an
        # object whose repr changes between executions just runs its task again.
        arguments = to_jsonable_python(dict(bound.arguments), fallback=repr)
        text = json.dumps(arguments, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def _to_json(self, result: Any) -> Any:
        from pydantic_core import PydanticSerializationError, to_jsonable_python

        try:
            return to_jsonable_python(result)
        except PydanticSerializationError as exc:
            raise TaskResultNotSerializable(
                f"task '{self.name}' returned a value of type {type(result).__name__}, which "
                f"cannot be stored as JSON ({exc}); return JSON-friendly data (dicts, lists, "
                "strings, numbers, pydantic models, dataclasses) so a re-executed run can reuse it"
            ) from None

    def _restore(self, stored: Any) -> Any:
        annotation = self._return_annotation()
        if annotation is None:
            return stored
        from pydantic import TypeAdapter

        return TypeAdapter(annotation).validate_python(stored)

    def _return_annotation(self) -> Any:
        try:
            hints = typing.get_type_hints(self.fn)
        except Exception:  # unresolvable annotations: hand back the JSON form
            return None
        annotation = hints.get("return")
        if annotation is None or annotation is type(None) or annotation is Any:
            return None
        return annotation


@overload
def task(fn: Callable[P, R], /) -> Task[P, R]: ...


@overload
def task(*, name: str | None = None) -> Callable[[Callable[P, R]], Task[P, R]]: ...


def task(
    fn: Callable[P, R] | None = None, /, *, name: str | None = None
) -> Task[P, R] | Callable[[Callable[P, R]], Task[P, R]]:
    """Make a function a task: in a flow run, its result is stored and reused on re-execution."""
    if fn is not None:
        return Task(fn, name=name)

    def decorate(func: Callable[P, R]) -> Task[P, R]:
        return Task(func, name=name)

    return decorate
