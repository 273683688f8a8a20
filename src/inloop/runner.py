"""serve(): register a deployment, then execute its scheduled runs, each in its own process.

The runner waits on a long-poll the server answers the moment a run of its deployment is
scheduled, and claims it atomically, so any number of runners may serve one deployment. Each
run executes in a child process (`inloop._execute`), started ahead of time so a claimed run starts
at once; its output goes straight to the runner's console. The runner heartbeats its runs,
watches each run's state (a cancelled run's process is stopped at once; a run suspended from
elsewhere, after a short grace) and marks a run whose process died without a final state CRASHED.

Ctrl-C or SIGTERM stops claiming and lets running runs finish; a second one cancels them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from inloop._dual import loop_is_running, on_io_loop
from inloop._parameters import parameter_schema
from inloop.client import InloopAPIError, RunOver, ServerUnavailable, get_client
from inloop.context import FlowLike, hold_run_token, release_run_token
from inloop.logging import setup_console_logging
from inloop.schemas import FINAL_STATES, Deployment, FlowRun, FlowRunWithToken, StateType
from inloop.settings import get_settings

__all__ = ["Runner", "entrypoint_for", "serve"]

log = logging.getLogger("inloop.runner")

WATCH_WAIT_SECONDS = 30.0
# A run that ends or suspends itself exits within moments; one suspended (or crashed) from
# elsewhere keeps running, and is stopped once this grace has passed.
EXIT_GRACE_SECONDS = 5.0
TERMINATE_GRACE_SECONDS = 5.0
RETRY_MIN_SECONDS = 0.2
RETRY_MAX_SECONDS = 5.0
# While the server refuses this runner's credential (it gained users), say so this often.
REFUSED_REMINDER_SECONDS = 60.0
LIVE_STATES = (StateType.PENDING, StateType.RUNNING, StateType.PAUSED)
_UNREACHABLE = (ServerUnavailable, httpx.TransportError)


def entrypoint_for(flow: FlowLike) -> str:
    """`/abs/path/file.py:name`: where a runner's child process finds this flow."""
    module = sys.modules.get(flow.fn.__module__)
    path = getattr(module, "__file__", None)
    if module is None or not path:
        raise RuntimeError(
            f"flow '{flow.name}' is defined in {flow.fn.__module__!r}, which has no file; "
            "define it in a .py file to serve it"
        )
    name = next((n for n, v in vars(module).items() if v is flow), None)
    if name is None:
        raise RuntimeError(
            f"flow '{flow.name}' is not a module-level name of {path}; a runner imports that "
            "file and looks the flow up by name, so define it at module level"
        )
    return f"{os.path.abspath(path)}:{name}"


def serve(flow: FlowLike, name: str, *, limit: int | None = None) -> Any:
    """Register the deployment `<flow>/<name>` and execute its runs until stopped.

    The dual-call rule, with one twist for signals: without a running event loop this blocks
    on a loop of its own on this thread (so Ctrl-C and SIGTERM reach it), and a stop by signal
    ends the program with exit code 0. Inside a running loop it returns a coroutine.
    `limit` caps how many runs execute at once.
    """
    runner = Runner(flow, name, limit=limit)
    if loop_is_running():
        return runner.run()
    try:
        by_signal = asyncio.run(runner.run())
    except KeyboardInterrupt:  # before the runner's own handlers were in place
        by_signal = True
    except ServerUnavailable as exc:  # nothing to serve against: say so, without a traceback
        print(f"inloop: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    except InloopAPIError as exc:
        if exc.status_code not in (401, 403):
            raise
        print(f"inloop: {refused_message(exc)}", file=sys.stderr)
        raise SystemExit(1) from None
    if by_signal:
        # `asyncio.run(flow.serve(...))` evaluates serve() before asyncio.run starts: exit
        # here, cleanly, instead of handing asyncio.run a None.
        raise SystemExit(0)
    return None


def refused_message(exc: InloopAPIError) -> str:
    """One line for an operator whose runner the server refuses (401/403)."""
    if exc.status_code == 401:
        why = "401: the server has users now, or this runner's token is no longer valid"
    else:
        why = f"{exc.status_code}: {str(exc.detail).split(';')[0][:200]}"
    return (
        f"the inloop server refuses this runner ({why}). Give it a runner token: `inloop "
        "user add NAME --role runner`, `inloop token create --user NAME`, then restart it "
        "with INLOOP_API_KEY=<runner token>"
    )


@dataclass
class _Child:
    run: FlowRun
    process: asyncio.subprocess.Process
    stop_reason: str | None = None
    superseded: bool = False
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"flow run '{self.run.name}'"


class Runner:
    """Serves one flow's deployment. Use `serve()`; `await Runner(...).run()` in async code."""

    def __init__(self, flow: FlowLike, name: str, *, limit: int | None = None) -> None:
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        self.flow = flow
        self.name = name
        self.limit = limit
        self.entrypoint = entrypoint_for(flow)
        host = socket.gethostname()[:60]
        self.runner_id = f"{host}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        # By process id: after a suspension and a quick resume, a run's next process may start
        # while its last one is still exiting.
        self.children: dict[int, _Child] = {}
        self.deployment: Deployment | None = None
        self._stopping = asyncio.Event()
        self._forced = 0
        self._by_signal = False
        self._child_exited = asyncio.Event()
        self._warm: asyncio.Task[asyncio.subprocess.Process] | None = None

    @property
    def full_name(self) -> str:
        return f"{self.flow.name}/{self.name}"

    # --- the main loop -------------------------------------------------------------------------
    async def run(self) -> bool:
        """Serve until stopped; True when a signal stopped it."""
        setup_console_logging()
        self.deployment = await self._register()
        self._print_panel()
        handled = self._install_signal_handlers()
        heartbeats = asyncio.create_task(self._heartbeat_loop(), name="inloop-runner-heartbeat")
        try:
            self._warm = asyncio.create_task(self._spawn())
            await self._claim_loop()
        finally:
            await self._drain()
            heartbeats.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeats
            self._remove_signal_handlers(handled)
        return self._by_signal

    def stop(self) -> None:
        """Stop claiming runs; running ones finish. (What the first Ctrl-C does.)"""
        self._stopping.set()

    # The runner's coroutines run on its own loop (serve() below), so each client call hops onto
    # the I/O loop that owns the connection pool: `on_io_loop(method.aio(...))`, typed exactly.

    async def _register(self) -> Deployment:
        register = get_client().create_deployment.aio(
            self.flow.name,
            self.name,
            entrypoint=self.entrypoint,
            parameter_schema=parameter_schema(self.flow),
        )
        deployment: Deployment = await on_io_loop(register)
        return deployment

    def _print_panel(self) -> None:
        from rich.console import Console
        from rich.panel import Panel

        ui = get_settings().resolved_ui_url
        text = (
            f"Your flow '{self.flow.name}' is being served and polling for scheduled runs!\n\n"
            "To trigger a run for this flow, use the following command:\n\n"
            f"        $ inloop deployment run '{self.full_name}'\n\n"
            "You can also run your flow via the inloop UI:\n"
            f"{ui}/deployments\n"
        )
        Console(width=max(100, len(ui) + 20) if not sys.stdout.isatty() else None).print(
            Panel(text, expand=True), soft_wrap=False
        )
        sys.stdout.flush()

    async def _claim_loop(self) -> None:
        client = get_client()
        failures = 0
        refused_since: float | None = None
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            if self.limit is not None and len(self.children) >= self.limit:
                self._child_exited.clear()
                await self._until_stopping(self._child_exited.wait())
                continue
            assert self.deployment is not None
            claim = client.claim_flow_run(
                [self.deployment.id], self.runner_id, wait=get_settings().runner_poll_seconds
            )
            try:
                done, run = await self._until_stopping(claim)
            except (*_UNREACHABLE, InloopAPIError) as exc:
                status = exc.status_code if isinstance(exc, InloopAPIError) else None
                if status in (401, 403):
                    # The server gained users (or our token was revoked): keep the runs we
                    # started going, keep asking, and tell the operator what to do.
                    assert isinstance(exc, InloopAPIError)
                    now = loop.time()
                    if refused_since is None or now - refused_since >= REFUSED_REMINDER_SECONDS:
                        refused_since = now
                        log.warning("%s; runs already started go on", refused_message(exc))
                    await self._until_stopping(asyncio.sleep(RETRY_MAX_SECONDS))
                    continue
                if status is not None and status < 500:
                    raise
                failures += 1
                if failures == 1:
                    log.warning("Lost the inloop server (%s); retrying until it is back", exc)
                delay = min(RETRY_MIN_SECONDS * 2 ** (failures - 1), RETRY_MAX_SECONDS)
                await self._until_stopping(asyncio.sleep(delay))
                continue
            if refused_since is not None:
                refused_since = None
                log.info("The inloop server accepts this runner again; serving '%s'",
                         self.full_name)
            if failures:
                failures = 0
                # The server may have a new database: register again before claiming.
                with contextlib.suppress(*_UNREACHABLE, InloopAPIError):
                    self.deployment = await self._register()
                log.info("The inloop server is back; serving '%s' again", self.full_name)
            if done and run is not None:
                await self._start(run)

    async def _until_stopping(self, awaitable: Any) -> tuple[bool, Any]:
        """Await `awaitable` unless a stop comes first: (finished, result)."""
        task = asyncio.ensure_future(awaitable)
        stopping = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            return False, None
        return True, task.result()

    # --- child processes -------------------------------------------------------------------------
    async def _spawn(self) -> asyncio.subprocess.Process:
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"  # the run's prints reach the console as they happen
        settings = get_settings()
        env["INLOOP_API_URL"] = settings.api_url
        # The run's own token arrives with its job; never one inherited from this process.
        env.pop("INLOOP_RUN_TOKEN", None)
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "inloop._execute",
            stdin=asyncio.subprocess.PIPE,
            env=env,
            # Its own session: a Ctrl-C in the terminal reaches the runner, not the runs.
            start_new_session=True,
        )

    async def _start(self, run: FlowRunWithToken) -> None:
        job = {
            "flow_run_id": str(run.id),
            "run_token": run.run_token,
            "entrypoint": self.entrypoint,
        }
        line = json.dumps({**job, "parameters": run.parameters}).encode() + b"\n"
        for attempt in range(2):
            warm, self._warm = self._warm, None
            process = await warm if warm is not None else await self._spawn()
            try:
                assert process.stdin is not None
                process.stdin.write(line)
                await process.stdin.drain()
                break
            except (BrokenPipeError, ConnectionResetError):
                # The pre-started process died before it got its run; start a fresh one.
                await process.wait()
                if attempt == 1:
                    raise
        child = _Child(run=run, process=process)
        # What this runner does about the run (mark it crashed, watch its state), it does with
        # the run's token: a runner's own credential carries no rights over runs.
        hold_run_token(run.id, run.run_token)
        self.children[process.pid] = child
        log.info("Executing %s (%s) in process %s", child.label, run.id, process.pid)
        child.tasks.append(asyncio.create_task(self._supervise(child)))
        if not self._stopping.is_set():
            self._warm = asyncio.create_task(self._spawn())

    async def _supervise(self, child: _Child) -> None:
        watcher = asyncio.create_task(self._watch_state(child))
        code = await child.process.wait()
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        if child.process.stdin is not None:
            child.process.stdin.close()
        try:
            await self._after_exit(child, code)
        finally:
            self.children.pop(child.process.pid, None)
            if not self._running(str(child.run.id)):
                release_run_token(child.run.id)
            self._child_exited.set()

    def _running(self, run_id: str, other_than: _Child | None = None) -> bool:
        return any(
            str(c.run.id) == run_id and c is not other_than for c in self.children.values()
        )

    async def _after_exit(self, child: _Child, code: int) -> None:
        if child.superseded or self._running(str(child.run.id), other_than=child):
            # The run was suspended (and maybe resumed and claimed again): whatever its state
            # is now belongs to a later execution, not to this process.
            self._log_suspended_exit(child, code)
            return
        client = get_client()
        try:
            run: FlowRun = await on_io_loop(client.read_flow_run.aio(child.run.id))
        except RunOver:
            # Read with the run's own token (this runner has no credential of its own that
            # works): the server says the run is final, which is all that matters here.
            log.info("Process for %s exited with code %s (the run is over)", child.label, code)
            return
        except (*_UNREACHABLE, InloopAPIError) as exc:
            log.warning("Process for %s exited with code %s; its state is unknown (%s)",
                        child.label, code, exc)
            return
        if run.state.type not in LIVE_STATES:
            if code == 0:
                log.info("Process for %s exited cleanly (%s)", child.label, run.state.name)
            else:
                log.info("Process for %s exited with code %s (%s)", child.label, code,
                         run.state.name)
            return
        if await self._suspended_since_claim(child):
            self._log_suspended_exit(child, code)
            return
        if child.stop_reason == "forced":
            state, message = StateType.CANCELLED, (
                "cancelled: the runner serving this flow run was stopped (second interrupt) "
                "and ended its process"
            )
        else:
            how = f"was killed by signal {_signal_name(-code)}" if code < 0 else (
                f"exited with code {code}"
            )
            state, message = StateType.CRASHED, (
                f"the flow run's process {how} before the run reached a final state "
                f"(it was {run.state.name})"
            )
        log.warning("Process for %s %s; marking it %s", child.label,
                    message.split("process ", 1)[-1] if state is StateType.CRASHED else
                    "was ended", state.display_name)
        with contextlib.suppress(InloopAPIError, *_UNREACHABLE):
            await on_io_loop(client.set_flow_run_state.aio(
                run.id, state, message=message, expected_seq=run.state_seq
            ))

    def _log_suspended_exit(self, child: _Child, code: int) -> None:
        if code == 0:
            log.info("Process for %s exited cleanly (Suspended)", child.label)
        else:
            log.info("Process for %s exited with code %s after it was suspended",
                     child.label, code)

    async def _suspended_since_claim(self, child: _Child) -> bool:
        """Did this run suspend after we claimed it? Then its live state is someone else's."""
        claimed = child.run.state.timestamp
        try:
            history = await on_io_loop(get_client().read_flow_run_states.aio(child.run.id))
        except (*_UNREACHABLE, InloopAPIError):
            return False
        return any(
            s.type in (StateType.SUSPENDED, StateType.SCHEDULED)
            and (claimed is None or (s.timestamp is not None and s.timestamp > claimed))
            for s in history
        )

    async def _watch_state(self, child: _Child) -> None:
        """Stop the process of a run that was cancelled, crashed or suspended from elsewhere."""
        client = get_client()
        seq = child.run.state_seq
        while True:
            try:
                run: FlowRun = await on_io_loop(client.wait_for_flow_run_change.aio(
                    child.run.id, seq, timeout=WATCH_WAIT_SECONDS
                ))
            except (*_UNREACHABLE, InloopAPIError):
                await asyncio.sleep(RETRY_MAX_SECONDS)
                continue
            seq = run.state_seq
            if run.state.type is StateType.CANCELLED:
                log.info("%s was cancelled; stopping its process", child.label.capitalize())
                await self._terminate(child)
                return
            if run.state.type in (StateType.SUSPENDED, StateType.SCHEDULED):
                child.superseded = True
            if child.superseded or run.state.type in FINAL_STATES:
                # A run that finished or suspended itself exits on its own in a moment; one
                # crashed or suspended from elsewhere is still going, and is stopped.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        asyncio.shield(child.process.wait()), EXIT_GRACE_SECONDS
                    )
                    return
                log.info("%s is %s; stopping its process", child.label.capitalize(),
                         run.state.name)
                await self._terminate(child)
                return

    async def _terminate(self, child: _Child, grace: float = TERMINATE_GRACE_SECONDS) -> None:
        process = child.process
        if process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(process.wait()), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

    async def _heartbeat_loop(self) -> None:
        client = get_client()
        interval = get_settings().heartbeat_interval_seconds
        while True:
            await asyncio.sleep(interval)
            ids = sorted({str(c.run.id) for c in self.children.values()})
            if not ids:
                continue
            try:
                stopped = await on_io_loop(client.heartbeat.aio(ids, self.runner_id))
            except (*_UNREACHABLE, InloopAPIError) as exc:
                log.debug("heartbeat failed: %s", exc)
                continue
            # Cancelled runs stop now; the state watcher handles every other ending.
            for child in list(self.children.values()):
                if stopped.get(str(child.run.id)) is StateType.CANCELLED:
                    child.tasks.append(asyncio.create_task(self._terminate(child)))

    # --- stopping ------------------------------------------------------------------------------
    async def _drain(self) -> None:
        """After a stop: no more runs; wait for (or, when forced, end) the running ones."""
        self._stopping.set()
        if self._warm is not None:
            warm, self._warm = self._warm, None
            with contextlib.suppress(Exception):
                process = await warm
                if process.stdin is not None:
                    process.stdin.close()  # no run for it: it exits
                await process.wait()
        await self._release_unstarted()
        if self.children:
            log.info(
                "Waiting for %d running flow run(s) to finish; press Ctrl-C again to cancel them",
                len(self.children),
            )
        while self.children:
            tasks = [t for c in list(self.children.values()) for t in c.tasks]
            await asyncio.gather(*tasks, return_exceptions=True)
        log.info("Runner for '%s' stopped", self.full_name)

    async def _release_unstarted(self) -> None:
        """Runs claimed at the moment we stopped go back to SCHEDULED for another runner."""
        if self.deployment is None:
            return
        client = get_client()
        try:
            pending = await on_io_loop(client.read_flow_runs.aio(
                deployment_id=self.deployment.id, state=StateType.PENDING, limit=100
            ))
            unstarted = [
                run.id
                for run in pending
                if run.state.details.get("runner_id") == self.runner_id
                and not self._running(str(run.id))
            ]
            if unstarted:
                await on_io_loop(client.release_flow_runs.aio(unstarted, self.runner_id))
        except (*_UNREACHABLE, InloopAPIError) as exc:
            log.debug("could not release unstarted runs: %s", exc)

    def _on_signal(self, signum: int) -> None:
        self._by_signal = True
        if not self._stopping.is_set():
            log.info("Stopping: no new runs will start (%s)", _signal_name(signum))
            self._stopping.set()
            return
        self._forced += 1
        children = list(self.children.values())
        if self._forced == 1:
            log.warning("Cancelling %d running flow run(s)", len(children))
            for child in children:
                child.stop_reason = "forced"
                child.tasks.append(asyncio.create_task(self._terminate(child)))
        else:
            for child in children:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, signal.SIGKILL)

    def _install_signal_handlers(self) -> list[signal.Signals]:
        if threading.current_thread() is not threading.main_thread():
            return []
        loop = asyncio.get_running_loop()
        handled = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
            except (NotImplementedError, RuntimeError):  # not on this platform or loop
                continue
            handled.append(sig)
        return handled

    def _remove_signal_handlers(self, handled: list[signal.Signals]) -> None:
        loop = asyncio.get_running_loop()
        for sig in handled:
            loop.remove_signal_handler(sig)


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return str(signum)
