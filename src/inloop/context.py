"""The current flow run, carried in a context variable across threads and the I/O loop."""

from __future__ import annotations

import contextvars
import inspect
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from inloop.schemas import FlowRun

__all__ = ["FlowLike", "FlowRunContext", "MissingContextError", "get_run_context"]


class FlowLike(Protocol):
    """What a run's context, the engine and the runner use of a flow. `inloop.flows.Flow` is
    one; naming only this keeps them below flows.py, which calls them."""

    @property
    def name(self) -> str: ...
    @property
    def fn(self) -> Callable[..., Any]: ...
    @property
    def log_prints(self) -> bool: ...
    @property
    def is_async(self) -> bool: ...
    @property
    def signature(self) -> inspect.Signature: ...

    def bind_parameters(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> dict[str, Any]: ...


class MissingContextError(RuntimeError):
    pass


@dataclass
class FlowRunContext:
    flow_run: FlowRun
    flow: FlowLike | None = None
    log_prints: bool = False
    # Proves to the server that requests made inside this run come from it (kept out of repr).
    run_token: str | None = field(default=None, repr=False)
    # Call counters make pause keys and task keys deterministic per run, so a run executed
    # again after a suspension finds the answers and results of its first execution.
    counters: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def next_index(self, kind: str) -> int:
        self.counters[kind] += 1
        return self.counters[kind]


_current: contextvars.ContextVar[FlowRunContext | None] = contextvars.ContextVar(
    "inloop_flow_run", default=None
)


def get_run_context() -> FlowRunContext:
    """The context of the flow run this code is part of."""
    context = _current.get()
    if context is None:
        raise MissingContextError(
            "get_run_context() was called outside a flow run; call it from inside a "
            "function decorated with @flow"
        )
    return context


def current_flow_run() -> FlowRunContext | None:
    return _current.get()


# The key of the @task call whose function is running now, if any: a pause inside a task is
# keyed under it, so a re-executed run that reuses the task's stored result (and so skips the
# pause) does not shift the keys of the pauses after it.
_task_key: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "inloop_task_key", default=None
)


def current_task_key() -> str | None:
    return _task_key.get()


def enter_task(key: str) -> contextvars.Token[str | None]:
    return _task_key.set(key)


def leave_task(token: contextvars.Token[str | None]) -> None:
    _task_key.reset(token)


def enter(context: FlowRunContext) -> contextvars.Token[FlowRunContext | None]:
    return _current.set(context)


def leave(token: contextvars.Token[FlowRunContext | None]) -> None:
    _current.reset(token)


# The run tokens this process holds, by run id: the runs it executes (and, in a runner, the
# runs its children execute). What this process does about one of them from outside the run's
# own context (heartbeats, shipping its logs, recording its final state, a runner marking its
# child crashed) is sent with that run's token, so it works whatever credential the process
# has, or none (a server that gained users after the run started).
_held_tokens: dict[str, str] = {}


def hold_run_token(run_id: object, token: str | None) -> None:
    if token:
        _held_tokens[str(run_id)] = token


def release_run_token(run_id: object) -> None:
    _held_tokens.pop(str(run_id), None)


def held_run_token(run_id: object) -> str | None:
    return _held_tokens.get(str(run_id))
