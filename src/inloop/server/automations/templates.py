"""What a notification says: Jinja2 templates, sandboxed and budgeted, over the run and the event.

Templates come from whoever may write automations, so they render in Jinja2's sandbox (no
attribute tricks reach Python internals) with StrictUndefined: a misspelt name is an error the
delivery log shows, not a silently empty message.

The sandbox bounds what a template may reach, not what it may cost: two nested `range(3000)`
loops once held the event loop for 2.7 s. So a render also has a budget, counted as it goes:

- steps (MAX_STEPS): each loop iteration (every `for` loop's iterable is wrapped in a counter
  when the template is compiled), each call and each intercepted operator;
- time (RENDER_SECONDS), checked at every step;
- size: the output stops at MAX_OUTPUT characters, and no value a template builds may grow past
  it (`*`, `**`, `+`, `~`, every filter and call are checked before or as they produce it);
  `range` takes at most MAX_OUTPUT items.

Over budget is TemplateFailed naming the limit. `render_off_loop` renders in a worker thread, at
most MAX_RENDERS at a time per event loop, and stops waiting after the time budget and a grace:
a render that outruns its own checks (one long C-level operation) keeps its slot until it ends,
so runaway threads cannot pile up. Templates are rendered once with sample data when an
automation is applied (`check_templates`), so a broken or over-budget one is refused there.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import re
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from jinja2 import StrictUndefined, nodes
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from inloop.event_kinds import EventKind
from inloop.schemas import FlowRun

__all__ = [
    "MAX_OUTPUT",
    "TemplateFailed",
    "check_templates",
    "render",
    "render_off_loop",
    "resume_url_for",
    "run_url_for",
    "sample_context",
    "template_context",
]

MAX_OUTPUT = 64 * 1024  # characters of a rendered title or body, and of any value built
MAX_STEPS = 100_000  # loop iterations, calls and operators in one render
RENDER_SECONDS = 1.0
MAX_RENDERS = 4  # renders at once in worker threads, per event loop
_GRACE_SECONDS = 1.0
NAMES = "run, event, description, resume_url, recipient"
_COUNTED = "__inloop_counted__"
_SIZED = "__inloop_sized__"
# A width or precision of six digits or more in a format string builds a megabyte from nothing.
_WIDE_FORMAT = re.compile(r"%[-#0 +]*\*|%[-#0 +]*\d{6,}|%[-#0 +]*\d*\.\d{6,}|\{[^{}]*:[^{}]*\d{6,}")


class TemplateFailed(Exception):
    """A template could not be rendered; the message names the template and the error."""


class _OverBudget(Exception):
    pass


@dataclass
class _Budget:
    deadline: float
    steps: int = 0
    output: list[str] = field(default_factory=list)

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise _OverBudget(
                f"it takes more than {MAX_STEPS:,} steps (loop iterations and calls)"
            )
        if time.monotonic() > self.deadline:
            raise _OverBudget(f"it takes longer than {RENDER_SECONDS:g} s to render")


_budget: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar(
    "inloop_template_budget", default=None
)


def _step() -> None:
    budget = _budget.get()
    if budget is not None:
        budget.step()


def _size(value: Any, limit: int = MAX_OUTPUT) -> int:
    """The characters `value` would print as, counted no further than just past `limit`."""
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, list | tuple | set | frozenset | dict):
        total = 0
        for item in value.items() if isinstance(value, dict) else value:
            total += _size(item, limit - total) + 2
            if total > limit:
                break
        return total
    return 8


def _sized(value: Any) -> Any:
    if _size(value) > MAX_OUTPUT:
        raise _OverBudget(f"it builds a value of more than {MAX_OUTPUT:,} characters")
    return value


def _counted(iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        _step()
        yield item


def _bounded_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_OUTPUT:
        raise _OverBudget(f"range() of {len(numbers):,} items (at most {MAX_OUTPUT:,})")
    return numbers


def _check_arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_OUTPUT:
            raise _OverBudget(f"an argument of {value:,} (at most {MAX_OUTPUT:,})")
        if isinstance(value, str) and _WIDE_FORMAT.search(value):
            raise _OverBudget("a format width or precision of a million or more")
        _sized(value)


def _check_replace(value: Any, old: Any, new: Any) -> None:
    """replace() is the one string operation whose result outgrows its inputs' product."""
    if isinstance(value, str) and isinstance(old, str) and isinstance(new, str):
        if len(value) // max(len(old), 1) * len(new) > MAX_OUTPUT and old in value:
            raise _OverBudget(f"replace() would build more than {MAX_OUTPUT:,} characters")


def _budgeted_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    # Filters marked to take the context or environment first keep the mark (functools.wraps
    # copies it), and get it first; the value follows.
    first = 1 if getattr(function, "jinja_pass_arg", None) else 0

    @functools.wraps(function)
    def checked(*args: Any, **kwargs: Any) -> Any:
        _step()
        # The value and every argument stay within the output budget, so what a filter makes
        # of them is bounded too (and checked again as it comes out).
        _check_arguments(args[first:], kwargs)
        if name == "replace" and len(args) >= first + 3:
            _check_replace(*args[first:first + 3])
        return _sized(function(*args, **kwargs))

    return checked


class _BudgetedEnvironment(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
        for name, function in list(self.filters.items()):
            self.filters[name] = _budgeted_filter(name, function)
        self.globals.update({"range": _bounded_range, _COUNTED: _counted, _SIZED: _sized})

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """Compile every loop over a counted iterable, and size every printed or joined value."""
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = self._wrap(_COUNTED, loop.iter)
        for output in tree.find_all(nodes.Output):
            output.nodes = [
                self._wrap(_SIZED, node) if isinstance(node, nodes.Expr) else node
                for node in output.nodes
            ]
        for concat in tree.find_all(nodes.Concat):
            concat.nodes = [self._wrap(_SIZED, node) for node in concat.nodes]
        return tree

    @staticmethod
    def _wrap(function: str, node: nodes.Node) -> nodes.Expr:
        lineno = node.lineno
        return nodes.Call(
            nodes.Name(function, "load", lineno=lineno), [node], [], None, None, lineno=lineno
        )

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _step()
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                if isinstance(times, int) and not isinstance(sequence, int | float):
                    if _size(sequence) * max(times, 0) > MAX_OUTPUT:
                        raise _OverBudget(
                            f"it repeats a value {times:,} times, past {MAX_OUTPUT:,} characters"
                        )
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and right > 0 and (
                abs(left) > 1 and max(abs(left).bit_length(), 1) * right > 8 * MAX_OUTPUT
            ):
                raise _OverBudget(f"{left} ** {right} is a number of too many digits")
        elif operator == "+":
            if not isinstance(left, int | float) and _size(left) + _size(right) > MAX_OUTPUT:
                raise _OverBudget(f"it builds a value of more than {MAX_OUTPUT:,} characters")
        elif operator == "%" and isinstance(left, str) and _WIDE_FORMAT.search(left):
            raise _OverBudget("a format width or precision of a million or more")
        return _sized(super().call_binop(context, operator, left, right))

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _step()
        wrapped = getattr(__obj, "__wrapped__", None)
        receiver = getattr(wrapped, "__self__", None)
        if isinstance(receiver, str) and _WIDE_FORMAT.search(receiver):
            raise _OverBudget("a format width or precision of a million or more")
        _check_arguments(args, kwargs)
        if getattr(__obj, "__name__", None) == "replace" and len(args) >= 2:
            _check_replace(getattr(__obj, "__self__", None), args[0], args[1])
        return _sized(super().call(__context, __obj, *args, **kwargs))


_env = _BudgetedEnvironment()


def run_url_for(run: FlowRun, ui_url: str) -> str:
    return f"{ui_url}/runs/{quote(str(run.id))}"


def resume_url_for(run: FlowRun, ui_url: str) -> str:
    """The link a recipient follows to answer the run's pause.

    The run's resume page in the UI, where the person signs in: what a notification links to
    when no signed link is made for its recipient (see automations/resume_links.py).
    """
    return f"{run_url_for(run, ui_url)}/resume"


def template_context(
    run: FlowRun,
    *,
    event_kind: str,
    event_occurred: datetime | None,
    event_actor: str | None,
    recipient: str | None,
    ui_url: str,
    resume_url: str | None = None,
) -> dict[str, Any]:
    return {
        "run": {
            "id": str(run.id),
            "name": run.name,
            "flow_name": run.flow_name,
            "deployment": run.deployment_name,
            "state": run.state.name,
            "url": run_url_for(run, ui_url),
        },
        "event": {
            "kind": event_kind,
            "occurred": event_occurred.isoformat() if event_occurred else None,
            "actor": event_actor,
        },
        "description": run.pause.description if run.pause else None,
        "resume_url": resume_url or resume_url_for(run, ui_url),
        "recipient": recipient,
    }


def sample_context() -> dict[str, Any]:
    """What template_context gives, with made-up values: for checking templates at apply."""
    run_url = "https://inloop.example.com/runs/00000000-0000-4000-8000-000000000000"
    return {
        "run": {
            "id": "00000000-0000-4000-8000-000000000000",
            "name": "sample-run",
            "flow_name": "sample-flow",
            "deployment": "sample-deployment",
            "state": "Paused",
            "url": run_url,
        },
        "event": {
            "kind": EventKind.FLOW_RUN_PAUSED.value,
            "occurred": "2026-01-01T00:00:00+00:00",
            "actor": "sample-user",
        },
        "description": "A sample pause's description",
        "resume_url": f"{run_url}/resume",
        "recipient": "sample@example.com",
    }


def render(what: str, source: str, context: dict[str, Any]) -> str:
    """Render within the budget (in this thread); TemplateFailed naming what went wrong."""
    budget = _Budget(deadline=time.monotonic() + RENDER_SECONDS)
    token = _budget.set(budget)
    try:
        size = 0
        for piece in _env.from_string(source).generate(context):
            size += len(piece)
            if size > MAX_OUTPUT:
                raise _OverBudget(f"its output is longer than {MAX_OUTPUT:,} characters")
            budget.output.append(piece)
        return "".join(budget.output)
    except _OverBudget as exc:
        raise TemplateFailed(
            f"the notification's {what} template is over its budget: {exc} "
            f"(template: {source[:200]!r}); keep loops small and output under "
            f"{MAX_OUTPUT // 1024} KiB"
        ) from None
    except Exception as exc:  # the sandbox, a missing name, or the template's own arithmetic
        raise TemplateFailed(
            f"the notification's {what} template cannot be rendered: {exc} "
            f"(template: {source[:200]!r}); names available: {NAMES}"
        ) from exc
    finally:
        _budget.reset(token)


_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


async def render_off_loop(what: str, source: str, context: dict[str, Any]) -> str:
    """`render` in a worker thread, at most MAX_RENDERS at once: the event loop stays free."""
    loop = asyncio.get_running_loop()
    slots = _slots.setdefault(loop, asyncio.Semaphore(MAX_RENDERS))
    await slots.acquire()
    work = loop.run_in_executor(None, render, what, source, context)
    # The slot is the thread's, not this coroutine's: it is freed when the render ends.
    work.add_done_callback(lambda _: slots.release())
    try:
        return await asyncio.wait_for(asyncio.shield(work), RENDER_SECONDS + _GRACE_SECONDS)
    except TimeoutError:
        raise TemplateFailed(
            f"the notification's {what} template took longer than {RENDER_SECONDS:g} s to "
            f"render (template: {source[:200]!r})"
        ) from None


async def check_templates(title: str, body: str) -> tuple[str, str] | None:
    """Render both templates with sample data: (field, error) of the first that fails."""
    context = sample_context()
    for what, source in (("title", title), ("body", body)):
        try:
            await render_off_loop(what, source, context)
        except TemplateFailed as exc:
            return what, str(exc)
    return None
