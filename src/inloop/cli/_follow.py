"""Follow a run as it happens: its logs (long-polled) and, optionally, its state changes.

Both streams are long-polls raced against each other, so the command ends the moment the run
reaches a final state instead of at the end of a pending poll.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from rich.text import Text

from inloop._dual import on_io_loop
from inloop.cli._output import console, format_time, log_line, state_text

if TYPE_CHECKING:
    from inloop.client import InloopClient
    from inloop.schemas import FlowRun, LogRecord

__all__ = ["LOG_PAGE", "POLL_SECONDS", "follow_run", "print_logs"]

POLL_SECONDS = 30.0
LOG_PAGE = 500


def print_logs(records: list[LogRecord]) -> int | None:
    """Print records; return the id of the last one (None if there were none)."""
    for record in records:
        console().print(log_line(record), soft_wrap=True)
    return records[-1].id if records else None


# These coroutines run on the CLI's own loop (asyncio.run below); each client call hops onto the
# I/O loop that owns the connection pool: `on_io_loop(method.aio(...))`, typed as its result.


async def _drain(client: InloopClient, run_id: str, after_id: int) -> int:
    while True:
        page = client.read_logs.aio(run_id, after_id=after_id, limit=LOG_PAGE)
        records: list[LogRecord] = await on_io_loop(page)
        after_id = print_logs(records) or after_id
        if len(records) < LOG_PAGE:
            return after_id


async def _follow_logs(client: InloopClient, run_id: str, finished: asyncio.Event) -> None:
    after_id = await _drain(client, run_id, 0)
    ended = asyncio.ensure_future(finished.wait())
    try:
        while not finished.is_set():
            poll = asyncio.ensure_future(
                on_io_loop(client.read_logs.aio(
                    run_id, after_id=after_id, limit=LOG_PAGE, wait=POLL_SECONDS
                ))
            )
            await asyncio.wait({poll, ended}, return_when=asyncio.FIRST_COMPLETED)
            if not poll.done():
                poll.cancel()
                break
            after_id = print_logs(poll.result()) or after_id
    finally:
        ended.cancel()
    # The engine ships a run's logs before it records the final state: one last read gets them.
    await _drain(client, run_id, after_id)


async def _follow_states(
    client: InloopClient, run_id: str, finished: asyncio.Event, show_states: bool
) -> FlowRun:
    run: FlowRun = await on_io_loop(client.read_flow_run.aio(run_id))
    shown = 0
    try:
        while True:
            if show_states:
                shown = await _print_new_states(client, run_id, shown)
            if run.state.is_final():
                return run
            change = client.wait_for_flow_run_change.aio(
                run_id, run.state_seq, timeout=POLL_SECONDS
            )
            run = await on_io_loop(change)
    finally:
        finished.set()


async def _print_new_states(client: InloopClient, run_id: str, shown: int) -> int:
    states = await on_io_loop(client.read_flow_run_states.aio(run_id))
    for state in states[shown:]:
        line = Text.assemble(("state ", "dim"), state_text(state))
        if state.message:
            line.append(f" - {state.message}")
        line.append(f"  {format_time(state.timestamp)}", style="dim")
        console().print(line, soft_wrap=True)
    if states and states[-1].type.value in ("PAUSED", "SUSPENDED") and len(states) > shown:
        console().print(
            f"[yellow]Waiting for input: inloop flow-run resume {run_id}[/]", soft_wrap=True
        )
    return len(states)


async def _follow(client: InloopClient, run_id: str, show_states: bool) -> FlowRun:
    finished = asyncio.Event()
    run, _ = await asyncio.gather(
        _follow_states(client, run_id, finished, show_states),
        _follow_logs(client, run_id, finished),
    )
    return run


def follow_run(client: InloopClient, run_id: str, *, show_states: bool = False) -> FlowRun:
    """Print the run's logs (and state changes) until it is final; return the final run."""
    return asyncio.run(_follow(client, run_id, show_states))
