"""The current flow run, carried in a context variable across threads and the I/O loop."""

from __future__ import annotations

import contextvars
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from inloop.schemas import FlowRun

if TYPE_CHECKING:
    from inloop.flows import Flow

__all__ = ["FlowRunContext", "MissingContextError", "get_run_context"]


class MissingContextError(RuntimeError):
    pass


@dataclass
class FlowRunContext:
    flow_run: FlowRun
    flow: Flow[Any, Any] | None = None
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


def enter(context: FlowRunContext) -> contextvars.Token[FlowRunContext | None]:
    return _current.set(context)


def leave(token: contextvars.Token[FlowRunContext | None]) -> None:
    _current.reset(token)
