"""Runtime messaging between flow runs: round trips, send rate, and draining a backlog.

Two flow runs in one process, the seed's greeter (exit-signal version) and a sender, both with
`poll_interval=0.1`. Prints figures beside their targets; asserts nothing. Starts its own server
on a free port with a temp INLOOP_HOME (SQLite), or on INLOOP_DATABASE_URL's database when set.

    python bench/messaging.py [--exchanges 200] [--sends 1000] [--backlog 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import median, p99, report, start_server

# Awaits @dual functions the way the seed examples do: right at run time, reported by a type
# checker (see inloop._dual), hence the `type: ignore[misc]` on those lines.

EXIT_SIGNAL = "__EXIT__"
CONCURRENCY = 16
WARMUP = 10


def report_rate(label: str, per_second: float, target: float) -> None:
    verdict = "ok" if per_second >= target else "UNDER TARGET"
    print(f"{label:<44} {per_second:>9.1f} /s    target >= {target:g} /s   {verdict}", flush=True)


async def round_trips(exchanges: int) -> list[float]:
    """Seconds from send_input to the greeter's reply arriving back at the sender, per name.

    The round trip is send -> respond -> receive: the sender's send_input, the greeter waking
    with it and calling respond(), and the sender's `receiver.next()` waking with the reply.
    """
    from inloop import flow, get_run_context
    from inloop.input.run_input import receive_input, send_input

    started: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    @flow
    async def greeter() -> None:
        started.set_result(str(get_run_context().flow_run.id))
        async for name_input in receive_input(
            str, with_metadata=True, poll_interval=0.1, timeout=None
        ):
            if name_input.value == EXIT_SIGNAL:
                return
            await name_input.respond(f"Hello, {name_input.value}!")

    @flow
    async def sender() -> list[float]:
        greeter_id = await started
        receiver = receive_input(str, timeout=30, poll_interval=0.1)
        timings = []
        for i in range(WARMUP + exchanges):
            name = f"name-{i}"
            began = time.perf_counter()
            await send_input(name, flow_run_id=greeter_id)  # type: ignore[misc]
            greeting = await receiver.next()
            elapsed = time.perf_counter() - began
            if greeting != f"Hello, {name}!":
                raise RuntimeError(f"expected a greeting for {name!r}, got {greeting!r}")
            if i >= WARMUP:
                timings.append(elapsed)
        await send_input(EXIT_SIGNAL, flow_run_id=greeter_id)  # type: ignore[misc]
        return timings

    _, timings = await asyncio.gather(greeter(), sender())
    return timings


async def send_rates(sends: int) -> tuple[float, float]:
    """send_input calls per second from one sender flow run: sequential, then 16 at a time."""
    from inloop import flow, get_client
    from inloop.input.run_input import send_input

    @flow
    async def sender() -> tuple[float, float]:
        target = str((await get_client().create_flow_run("bench-mailbox")).id)  # type: ignore[misc]
        for i in range(WARMUP):
            await send_input(f"warmup-{i}", flow_run_id=target)  # type: ignore[misc]

        began = time.perf_counter()
        for i in range(sends):
            await send_input(f"sequential-{i}", flow_run_id=target)  # type: ignore[misc]
        sequential = sends / (time.perf_counter() - began)

        async def worker(w: int) -> None:
            for i in range(sends // CONCURRENCY):
                await send_input(f"concurrent-{w}-{i}", flow_run_id=target)  # type: ignore[misc]

        began = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(CONCURRENCY)))
        concurrent = (sends // CONCURRENCY) * CONCURRENCY / (time.perf_counter() - began)
        return sequential, concurrent

    result: tuple[float, float] = await sender()
    return result


async def drain(backlog: int) -> float:
    """Seconds for a receiver to iterate `backlog` inputs that were queued before it started."""
    from inloop import get_client
    from inloop.input.run_input import receive_input, send_input

    target = str((await get_client().create_flow_run("bench-backlog")).id)  # type: ignore[misc]
    queue = iter(range(backlog))

    async def fill() -> None:
        for i in queue:
            await send_input(f"queued-{i}", flow_run_id=target)  # type: ignore[misc]

    await asyncio.gather(*(fill() for _ in range(CONCURRENCY)))

    began = time.perf_counter()
    seen = 0
    async for _ in receive_input(str, flow_run_id=target, timeout=60, poll_interval=0.1):
        seen += 1
        if seen == backlog:
            break
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exchanges", type=int, default=200, help="greeter round trips to time")
    parser.add_argument("--sends", type=int, default=1000, help="send_input calls per rate")
    parser.add_argument("--backlog", type=int, default=1000, help="queued inputs to drain")
    args, _ = parser.parse_known_args()  # scripts/bench passes the same flags to every bench
    database_url = os.environ.get("INLOOP_DATABASE_URL")
    print(f"inloop messaging ({'PostgreSQL' if database_url else 'SQLite'}, "
          f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs)\n")

    with start_server(database_url) as server:
        os.environ.update({"INLOOP_API_URL": server.api_url, "INLOOP_HOME": str(server.home)})
        os.environ.setdefault("INLOOP_LOGGING_LEVEL", "WARNING")  # no per-run console lines

        timings = asyncio.run(round_trips(args.exchanges))
        report(f"round trip, median (n={len(timings)})", median(timings) * 1000, "ms", 5)
        report(f"round trip, p99 (n={len(timings)})", p99(timings) * 1000, "ms", 25)

        sequential, concurrent = asyncio.run(send_rates(args.sends))
        report_rate(f"send_input, sequential (n={args.sends})", sequential, 1500)
        report_rate(f"send_input, {CONCURRENCY} concurrent (n={args.sends})", concurrent, 1500)

        seconds = asyncio.run(drain(args.backlog))
        report(f"drain {args.backlog} queued inputs", seconds, "s", 0.5)
        print("\nreference (the original): round trip 140 ms median, 270 ms p99; "
              "175 sends/s; drain 1,000 in 13 s")


if __name__ == "__main__":
    main()
