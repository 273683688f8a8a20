"""Helpers shared by the browser tests (`from tests.browser.browser_helpers import ...`)."""

from __future__ import annotations

import subprocess
import time
from typing import Any

import httpx

WAITING = ("PAUSED", "SUSPENDED")
FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


def wait_for_run(
    api: httpx.Client, flow_name: str, states: tuple[str, ...] = WAITING, timeout: float = 60
) -> dict[str, Any]:
    """The newest run of `flow_name` once it is in one of `states`."""
    deadline = time.monotonic() + timeout
    while True:
        runs = api.get("/flow_runs", params={"flow_name": flow_name, "limit": 10}).json()
        for run in runs:
            if run["state"]["type"] in states:
                return run
        if time.monotonic() > deadline:
            raise AssertionError(f"no run of {flow_name!r} reached {states} in {timeout}s: {runs}")
        time.sleep(0.2)


def wait_for_state(
    api: httpx.Client,
    run_id: str,
    states: tuple[str, ...],
    timeout: float = 60,
    after_seq: int = -1,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run = api.get(f"/flow_runs/{run_id}").json()
        if run["state"]["type"] in states and run["state_seq"] > after_seq:
            return run
        if time.monotonic() > deadline:
            raise AssertionError(
                f"run {run_id} did not reach {states} in {timeout}s: {run['state']}"
            )
        time.sleep(0.2)


def wait_for_log(api: httpx.Client, run_id: str, text: str, timeout: float = 30) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        messages = [line["message"] for line in api.get(f"/flow_runs/{run_id}/logs").json()]
        if any(text in message for message in messages):
            return messages
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} never logged {text!r}; it logged {messages}")
        time.sleep(0.2)


def finish(process: subprocess.Popen[Any], timeout: float = 60) -> int:
    """Wait for a flow script to exit (killing it if it does not) and return its exit code.

    Its output is printed, so pytest shows it when the test fails.
    """
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        print(f"--- flow script stdout ---\n{out}\n--- stderr ---\n{err}")
        raise AssertionError(f"flow script still running after {timeout}s") from None
    print(f"--- flow script stdout ---\n{out}\n--- stderr ---\n{err}")
    return process.returncode


def stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def unlabelled_fields(page: Any) -> list[str]:
    """Form controls on the page without an accessible label (for the accessibility checks)."""
    return page.evaluate(
        """() => [...document.querySelectorAll('main input, main select, main textarea')]
            .filter(el => el.type !== 'hidden')
            .filter(el => !(el.labels && [...el.labels].some(l => l.textContent.trim()))
                          && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
            .map(el => el.outerHTML.slice(0, 120))"""
    )
