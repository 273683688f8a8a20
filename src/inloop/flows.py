"""`@flow` and the Flow object: calling a flow creates and runs a flow run."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, Generic, ParamSpec, TypeVar, overload

__all__ = ["Flow", "flow"]

P = ParamSpec("P")
R = TypeVar("R")


class Flow(Generic[P, R]):
    def __init__(
        self, fn: Callable[P, R], name: str | None = None, log_prints: bool = False
    ) -> None:
        if not callable(fn):
            raise TypeError(f"@flow needs a function, got {fn!r}")
        self.fn = fn
        self.name = name or fn.__name__.replace("_", "-")
        self.log_prints = log_prints
        self.is_async = inspect.iscoroutinefunction(fn)
        self.signature = inspect.signature(fn)
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"Flow(name={self.name!r})"

    def bind_parameters(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"flow '{self.name}' called with bad arguments: {exc}") from None
        bound.apply_defaults()
        return dict(bound.arguments)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        # Imported on first call, not with this module: the engine (and the runner, below)
        # load the HTTP client, and defining a flow should not. Neither imports this module.
        from inloop import engine

        if self.is_async:
            return engine.run_flow_async(self, args, kwargs)  # type: ignore[return-value]
        return engine.run_flow_sync(self, args, kwargs)  # type: ignore[no-any-return]

    def serve(self, name: str, **kwargs: Any) -> Any:
        """Register a deployment `<flow>/<name>` and execute its runs until stopped.

        Follows the dual-call rule: blocks when called without a running event loop, and
        returns an awaitable inside one (so `asyncio.run(flow.serve(name=...))` works).
        """
        from inloop.runner import serve

        return serve(self, name=name, **kwargs)


@overload
def flow(fn: Callable[P, R], /) -> Flow[P, R]: ...


@overload
def flow(
    *, name: str | None = None, log_prints: bool = False
) -> Callable[[Callable[P, R]], Flow[P, R]]: ...


def flow(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    log_prints: bool = False,
) -> Flow[P, R] | Callable[[Callable[P, R]], Flow[P, R]]:
    """Make a function a flow: each call is a flow run, tracked by the inloop server."""
    if fn is not None:
        return Flow(fn, name=name, log_prints=log_prints)

    def decorate(func: Callable[P, R]) -> Flow[P, R]:
        return Flow(func, name=name, log_prints=log_prints)

    return decorate
