"""The seed's send/receive examples, end to end: two flow runs talking.

Each example runs as a subprocess (its flow run waits for input). The test process plays the
other side with a sender flow run of its own: it sends names to the example's run, and, for the
responding greeters, receives every reply with `receive_input(str)` and checks it.
"""

from __future__ import annotations

import asyncio
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from inloop import flow, get_client
from inloop.input.run_input import RunInput, receive_input, send_input

# Awaits @dual functions the way the seed examples do: right at run time, reported by a type
# checker (see inloop._dual), hence the `type: ignore[misc]` on those lines.

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAMES = ["andrew", "Zoë", "O'Brien & co", "  spaced  ", "名前"]
EXIT_SIGNAL = "__EXIT__"
REPLY_TIMEOUT = 15


class GreeterInput(RunInput):
    """The same class as receive_greeter_input.py's: same name, so the same key prefix."""

    value: str


class Example:
    """An example script running as a subprocess, with its output collected as it arrives."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._drain, args=(process.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._drain, args=(process.stderr, self.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _drain(pipe: Any, into: list[str]) -> None:
        for line in pipe:
            into.append(line.rstrip("\n"))

    def output(self) -> str:
        return "stdout:\n" + "\n".join(self.stdout) + "\nstderr:\n" + "\n".join(self.stderr)

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            self.join()
            pytest.fail(f"example exited with code {self.process.returncode}\n{self.output()}")

    def wait_exit(self, timeout: float = 20) -> int:
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            pytest.fail(f"example did not exit within {timeout} s\n{self.output()}")
        self.join()
        return code

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.join()

    def join(self) -> None:
        for reader in self._readers:
            reader.join(10)


def start_example(
    run_flow_script: Any, wait_for: Any, script: str, flow_name: str
) -> tuple[Example, str]:
    """Run `examples/<script>`; return it and the id of the new RUNNING flow run it created."""
    client = get_client()
    before = {run.id for run in client.read_flow_runs(flow_name=flow_name, limit=200)}
    example = Example(
        run_flow_script(EXAMPLES / script, env={"PYTHONUNBUFFERED": "1"})
    )

    def new_running_run() -> str | None:
        example.check_alive()
        runs = client.read_flow_runs(flow_name=flow_name, state="RUNNING", limit=200)
        fresh = [run for run in runs if run.id not in before]
        return str(fresh[0].id) if fresh else None

    try:
        return example, wait_for(new_running_run)
    except BaseException:
        example.stop()
        raise


@flow
async def sender(greeter_run_id: str, names: list[str], exit_signal: str | None) -> list[str]:
    """Send each name and wait for its reply, like the seed's sender (minus the terminal)."""
    receiver = receive_input(str, timeout=REPLY_TIMEOUT, poll_interval=0.1)
    replies = []
    for name in names:
        await send_input(name, flow_run_id=greeter_run_id)  # type: ignore[misc]
        replies.append(await receiver.next())
    if exit_signal is not None:
        await send_input(exit_signal, flow_run_id=greeter_run_id)  # type: ignore[misc]
    return replies


@flow
def sync_sender(greeter_run_id: str, values: list[Any]) -> None:
    """Send without waiting for replies, from a sync flow (no await anywhere)."""
    for value in values:
        send_input(value, flow_run_id=greeter_run_id)


def wait_for_lines(wait_for: Any, example: Example, expected: list[str]) -> None:
    def printed() -> bool:
        example.check_alive()
        return len(example.stdout) >= len(expected)

    wait_for(printed)
    assert example.stdout == expected, example.output()


@pytest.mark.parametrize("script", ["receive_greeter.py", "receive_with_metadata.py"])
def test_receiving_greeter_prints_a_greeting_per_name(server, run_flow_script, wait_for, script):
    example, run_id = start_example(run_flow_script, wait_for, script, "greeter-flow")
    try:
        sync_sender(run_id, NAMES)
        wait_for_lines(wait_for, example, [f"Hello, {name}!" for name in NAMES])
    finally:
        example.stop()


def test_greeter_input_receiver_sees_only_greeter_inputs(server, run_flow_script, wait_for):
    example, run_id = start_example(
        run_flow_script, wait_for, "receive_greeter_input.py", "greeter-flow"
    )
    try:
        # The str goes first: a receiver of GreeterInput that saw it would print it first.
        sync_sender(run_id, ["a plain str", *(GreeterInput(value=n) for n in NAMES)])
        wait_for_lines(wait_for, example, [f"Hello, {name}!" for name in NAMES])
        # The str is still there, waiting for a receive_input(str) that never comes.
        keys = [i.key for i in get_client().read_flow_run_inputs(run_id)]
        assert sum(k.startswith("str-auto-") for k in keys) == 1
        assert sum(k.startswith("greeterinput-auto-") for k in keys) == len(NAMES)
    finally:
        example.stop()


def test_responding_greeter_replies_to_every_name(server, run_flow_script, wait_for):
    example, run_id = start_example(run_flow_script, wait_for, "respond_greeter.py", "greeter")
    try:
        replies = asyncio.run(sender(run_id, NAMES, exit_signal=None))
        assert replies == [f"Hello, {name}!" for name in NAMES]
        example.check_alive()  # no exit signal in this version: it keeps serving
    finally:
        example.stop()


def test_exit_signal_greeter_replies_then_says_goodbye(server, run_flow_script, wait_for):
    example, run_id = start_example(run_flow_script, wait_for, "respond_exit_signal.py", "greeter")
    try:
        replies = asyncio.run(sender(run_id, NAMES, exit_signal=EXIT_SIGNAL))
        assert replies == [f"Hello, {name}!" for name in NAMES]
        assert example.wait_exit() == 0, example.output()
    finally:
        example.stop()
    assert example.stdout == ["Goodbye!"], example.output()
    run = get_client().read_flow_run(run_id)
    assert run.state.type.value == "COMPLETED", run.state
    # Every reply went back to the sender's run; none to the greeter's own.
    inputs = get_client().read_flow_run_inputs(run_id)
    assert all(i.sender and i.sender.startswith("inloop.flow-run.") for i in inputs)
    assert not any(i.value == {"value": f"Hello, {NAMES[0]}!"} for i in inputs)
