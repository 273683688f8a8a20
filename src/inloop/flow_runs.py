"""Pause, suspend and resume flow runs, optionally waiting for typed input.

A pause keeps the process and waits; a suspension ends the process, and the run's deployment
re-executes it from the top after the resume. Pause keys are deterministic per run (`paused-1`,
`suspended-1`, ... by call order, or `key=`), so a re-executed run finds the answer it was given
and goes on at once.

One exception keeps the seed's suspend-after-idle loop working: once this execution has waited
out a `receive_input` timeout, it is no longer replaying an earlier one, so a pause or suspension
without input reached after that is a new one (under the next free key), never an old answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Literal
from uuid import UUID

import httpx
import pydantic
from pydantic import BaseModel

from inloop._dual import async_twin, dual
from inloop._verdicts import judge_offers, report_rejection
from inloop.assignees import check_assignees
from inloop.client import InloopAPIError, ServerUnavailable, describe_detail, get_client
from inloop.context import current_flow_run, current_task_key
from inloop.engine import FlowRunCancelled, FlowRunSuspended, view_url, waiting_on_pause
from inloop.input.run_input import (
    IDLE_COUNTER,
    AutomaticRunInput,
    RunInput,
    keyset_from_base_key,
    run_input_class_for,
)
from inloop.logging import flush_run_logs
from inloop.schemas import INPUT_KEY_PATTERN, FlowRun, StateType

__all__ = [
    "CannotSuspend",
    "FlowRunNotRunning",
    "InvalidResumeInput",
    "PausedRunTimeout",
    "acreate_resume_link",
    "apause_flow_run",
    "aresume_flow_run",
    "asuspend_flow_run",
    "create_resume_link",
    "create_resume_link_async",
    "pause_flow_run",
    "pause_flow_run_async",
    "resume_flow_run",
    "resume_flow_run_async",
    "suspend_flow_run",
    "suspend_flow_run_async",
]

LONG_POLL_SECONDS = 30.0


class PausedRunTimeout(TimeoutError):
    """Nobody resumed the run before its pause timed out."""


class FlowRunNotRunning(RuntimeError):
    """While this run waited, it was moved to a state it cannot continue from (e.g. cancelled)."""


class CannotSuspend(RuntimeError):
    """This flow run cannot be suspended (no deployment to run it again, or a subflow)."""


class InvalidResumeInput(InloopAPIError, RuntimeError):
    """The server refused a resume's input (422); `errors` lists each field's error."""

    def __init__(self, flow_run_id: UUID | str, detail: Any) -> None:
        super().__init__(422, detail, "POST", f"/flow_runs/{flow_run_id}/resume")
        self.args = (
            f"flow run '{flow_run_id}' was not resumed, its input was refused: "
            f"{describe_detail(detail)}",
        )

    @property
    def errors(self) -> list[dict[str, Any]]:
        detail = self.detail
        return detail if isinstance(detail, list) else [{"loc": [], "msg": str(detail)}]


_FUNCTION_NAME = {"paused": "pause_flow_run", "suspended": "suspend_flow_run"}


def _pause_key(kind: str, key: str | None) -> str:
    context = current_flow_run()
    if context is None:
        name = _FUNCTION_NAME[kind]
        hint = ", or pass flow_run_id=... to suspend another run" if kind == "suspended" else ""
        raise RuntimeError(f"{name}() must be called inside a flow run (a @flow){hint}")
    if key is None:
        task_key = current_task_key()
        if task_key is not None:
            # Numbered within its task call, so skipping a finished task skips its keys too.
            return f"{kind}-{task_key}-{context.next_index(f'{kind}:{task_key}')}"
        return f"{kind}-{context.next_index(kind)}"
    if not INPUT_KEY_PATTERN.fullmatch(key):
        raise ValueError(
            f"invalid pause key {key!r}: use lowercase letters, digits and '-' only"
        )
    return key


OnTimeout = Literal["fail", "defaults"]


def _timeout_defaults(
    run_input_cls: type[RunInput] | None, on_timeout: str, timeout: float | None, name: str
) -> dict[str, Any] | None:
    """The answer the server gives at the deadline when `on_timeout="defaults"`, made now.

    Raises at the call, before anything pauses, when the input has a field without a default.
    """
    if on_timeout not in ("fail", "defaults"):
        raise ValueError(
            f"{name}(on_timeout={on_timeout!r}): use on_timeout='fail' (the run fails at its "
            "timeout) or on_timeout='defaults' (it is resumed with the input's defaults)"
        )
    if on_timeout == "fail":
        return None
    if timeout is None:
        raise ValueError(
            f"{name}(on_timeout='defaults') needs a timeout: the defaults are given when it "
            "passes; pass timeout=<seconds>"
        )
    if run_input_cls is None:
        return None
    missing = [field for field, info in run_input_cls.model_fields.items() if info.is_required()]
    if missing:
        what = (
            f"wait_for_input={run_input_cls._annotation!r}"
            if issubclass(run_input_cls, AutomaticRunInput)
            else run_input_cls.__name__
        )
        raise ValueError(
            f"{name}(on_timeout='defaults'): {what} has no default for "
            f"{', '.join(map(repr, missing))}; give every field a default (e.g. "
            "Model.with_initial_data(field=...)) or leave on_timeout='fail'"
        )
    try:
        defaults = run_input_cls.model_validate({})
    except pydantic.ValidationError as exc:
        raise ValueError(
            f"{name}(on_timeout='defaults'): the defaults of {run_input_cls.__name__} are not "
            f"valid input: {exc}"
        ) from None
    result: dict[str, Any] = defaults.model_dump(mode="json")
    return result


def _answer(run_input_cls: type[RunInput], stored: Any) -> Any:
    instance = run_input_cls.load_from_flow_run_input(stored)
    if isinstance(instance, AutomaticRunInput):
        return instance.value
    return instance


async def _wait_for_resume(
    run: FlowRun, key: str, timeout: float | None, poll_interval: float, on_timeout: str
) -> FlowRun:
    # Beat at the paused interval while waiting: the server refuses resumes to a paused run
    # silent for longer than its paused budget (INLOOP_PAUSED_HEARTBEAT_GRACE_SECONDS).
    # With on_timeout="defaults" the server resumes it at the deadline: wait for that.
    wait = None if on_timeout == "defaults" else timeout
    with waiting_on_pause(str(run.id)):
        return await _wait_for_state_change(run, key, wait, poll_interval)


async def _wait_for_state_change(
    run: FlowRun, key: str, timeout: float | None, poll_interval: float
) -> FlowRun:
    client = get_client()
    deadline = None if timeout is None else time.monotonic() + timeout
    seq = run.state_seq
    while True:
        wait = LONG_POLL_SECONDS
        if deadline is not None:
            wait = min(wait, deadline - time.monotonic())
        if wait <= 0:
            try:
                current: FlowRun = await client.read_flow_run.aio(run.id)
            except (ServerUnavailable, httpx.TransportError):
                current = run  # cannot ask: the deadline has passed all the same
            if current.state.type is StateType.PAUSED:
                raise PausedRunTimeout(
                    f"flow run '{run.name}' paused at '{key}' timed out after {timeout:g} s "
                    "without being resumed"
                )
            wait = 0
        try:
            current = await client.wait_for_flow_run_change.aio(run.id, seq, timeout=max(wait, 0))
        except (ServerUnavailable, httpx.TransportError):
            # The wake channel is down (server restarting?); poll until it is back.
            await asyncio.sleep(poll_interval)
            continue
        except InloopAPIError as exc:
            if exc.status_code < 500:
                raise
            # A server shutting down (or a proxy before it) failed the long-poll: same as above.
            await asyncio.sleep(poll_interval)
            continue
        if current.state_seq == seq:
            continue
        seq = current.state_seq
        if current.state.type is StateType.RUNNING:
            return current
        if current.state.type is StateType.SUSPENDED:
            raise FlowRunSuspended(key)  # suspended from elsewhere while paused: stop cleanly
        if current.state.type is StateType.CANCELLED:
            # Cancel means stop: the engine says so in one line and the process ends.
            raise FlowRunCancelled.of(current, where=f"while paused (key {key})")
        if current.state.type is not StateType.PAUSED:
            raise FlowRunNotRunning(
                f"flow run '{run.name}' stopped waiting at '{key}': it is now "
                f"{current.state.name}"
                + (f" ({current.state.message})" if current.state.message else "")
            )


def _check_suspendable(run: FlowRun) -> None:
    if run.deployment_id is not None:
        return
    if run.parent_flow_run_id is not None:
        raise CannotSuspend(
            f"flow run '{run.name}' is a subflow running in its parent's process "
            f"(parent run {run.parent_flow_run_id}); suspending it would end the parent too. "
            "Suspend the parent flow instead, or use pause_flow_run, which keeps the process"
        )
    raise CannotSuspend(
        f"flow run '{run.name}' has no deployment, so nothing could run it again after a "
        "suspension; serve the flow (Flow.serve) and start it from its deployment, or use "
        "pause_flow_run, which keeps the process waiting"
    )


def _announce_wait(run: FlowRun, key: str, has_input: bool) -> None:
    """One line on the console (and in the run's log) saying how to answer."""
    what = "input" if has_input else "a resume"
    state = "Suspended, waiting" if run.state.is_suspended() else "Waiting"
    logging.getLogger("inloop.flow_runs").info(
        "%s for %s (key %s): inloop flow-run resume %s  or  %s/resume",
        state,
        what,
        key,
        run.id,
        view_url(run),
        extra={"flow_run_id": str(run.id), "flow_run_name": run.name},
    )


async def _pause(
    wait_for_input: Any,
    timeout: float | None,
    poll_interval: float,
    key: str | None,
    reschedule: bool,
    *,
    on_timeout: str = "fail",
    validate_before_resume: bool = False,
    assignees: list[str] | None = None,
    allow_self_approval: bool = True,
) -> Any:
    kind = "suspended" if reschedule else "paused"
    by_call_order = key is None
    key = _pause_key(kind, key)
    context = current_flow_run()
    assert context is not None
    if reschedule:
        _check_suspendable(context.flow_run)
    run_id = context.flow_run.id
    keys = keyset_from_base_key(key)
    run_input_cls = run_input_class_for(wait_for_input) if wait_for_input is not None else None
    timeout_input = _timeout_defaults(run_input_cls, on_timeout, timeout, _FUNCTION_NAME[kind])
    client = get_client()

    # Executed again after a suspension (or a crash): the answer may already be here.
    earlier = await client.read_flow_run_input.aio(run_id, keys["response"])
    if earlier is not None:
        if not (by_call_order and run_input_cls is None and context.counters[IDLE_COUNTER]):
            return _answer(run_input_cls, earlier) if run_input_cls else None
        # Past an idle timeout this execution is not replaying: a stop without input is new
        # (the seed's suspend-after-idle loop suspends again), so take the next free key.
        while earlier is not None:
            key = _pause_key(kind, None)
            keys = keyset_from_base_key(key)
            earlier = await client.read_flow_run_input.aio(run_id, keys["response"])

    # Whatever the flow logged before asking (e.g. why it rejected the last answer) is stored
    # before the run shows as paused, so whoever answers next can read it.
    await flush_run_logs()
    # The server judges a paused run's process by its heartbeats only once it has one: make
    # sure it does, or a process killed while paused would look alive for good.
    await client.heartbeat.aio([run_id])
    try:
        run = await client.pause_flow_run.aio(
            run_id,
            key,
            schema=run_input_cls.model_json_schema() if run_input_cls else None,
            description=run_input_cls.description() if run_input_cls else None,
            timeout=timeout,
            reschedule=reschedule,
            on_timeout=on_timeout,
            timeout_input=timeout_input,
            validate_before_resume=validate_before_resume,
            assignees=assignees,
            allow_self_approval=allow_self_approval,
        )
    except InloopAPIError as exc:
        # Suspended from elsewhere (suspend_flow_run(flow_run_id=...)): this is a check point,
        # so stop here, cleanly, and leave the run suspended.
        if exc.status_code == 409 and (await client.read_flow_run.aio(run_id)).state.is_suspended():
            raise FlowRunSuspended(key) from None
        raise
    _announce_wait(run, key, has_input=run_input_cls is not None)
    if reschedule:
        raise FlowRunSuspended(key)
    judge = None
    if validate_before_resume and run_input_cls is not None:
        judge = asyncio.create_task(judge_offers(run_id, key, run_input_cls))
    try:
        await _wait_for_resume(run, key, timeout, poll_interval, on_timeout)
    finally:
        if judge is not None:
            judge.cancel()
            await asyncio.gather(judge, return_exceptions=True)
    if run_input_cls is None:
        return None
    answer = await client.read_flow_run_input.aio(run_id, keys["response"])
    if answer is None:
        raise RuntimeError(f"flow run '{run.name}' was resumed without its input '{key}'")
    try:
        return _answer(run_input_cls, answer)
    except pydantic.ValidationError as exc:
        # The seed's loop catches this and asks again; either way it is worth an event.
        await report_rejection(run_id, key, exc)
        raise


@dual
async def pause_flow_run(
    wait_for_input: Any = None,
    timeout: float | None = 3600,
    poll_interval: float = 10,
    key: str | None = None,
    *,
    on_timeout: OnTimeout = "fail",
    validate_before_resume: bool = False,
    assignees: Sequence[str] | None = None,
    allow_self_approval: bool = True,
) -> Any:
    """Pause this flow run until it is resumed; return the validated input it was given.

    `wait_for_input` is a built-in type or annotation (the plain value is returned), a pydantic
    BaseModel, or a RunInput (a model instance is returned). The process stays alive and is woken
    the moment the run is resumed. After `timeout` seconds without a resume the flow fails; with
    `on_timeout="defaults"` the server resumes it with the input's defaults instead (every field
    needs one, checked at this call). Inside a @task, the task's flow run pauses.

    With `validate_before_resume=True`, each resume is first offered to this waiting process,
    which runs the model's own validators: a refused answer gets a 422 with their messages and
    the run stays paused. If the process does not answer within INLOOP_VALIDATE_TIMEOUT_SECONDS,
    the resume goes ahead and the answer is validated here afterwards, as without the opt-in.

    On a server with users, `assignees` (user names and `group:NAME`) limits who may answer
    (admins always may), and `allow_self_approval=False` refuses the person who started the
    run, in every mode.
    """
    chosen = check_assignees(assignees)
    if validate_before_resume and wait_for_input is None:
        raise ValueError(
            "validate_before_resume=True needs wait_for_input=<a type or RunInput>: a pause "
            "without input has no answer to validate"
        )
    return await _pause(
        wait_for_input, timeout, poll_interval, key, reschedule=False, on_timeout=on_timeout,
        validate_before_resume=validate_before_resume, assignees=chosen,
        allow_self_approval=allow_self_approval,
    )


@dual
async def suspend_flow_run(
    wait_for_input: Any = None,
    flow_run_id: UUID | str | None = None,
    timeout: float | None = None,
    key: str | None = None,
    *,
    on_timeout: OnTimeout = "fail",
    assignees: Sequence[str] | None = None,
    allow_self_approval: bool = True,
) -> Any:
    """Suspend a flow run: its process ends, and its deployment runs it again after a resume.

    Called again on re-execution, the same call returns the input it was resumed with. With
    `flow_run_id`, suspends another run, which stops at its next check with the server. With
    `on_timeout="defaults"` and a `timeout`, the server resumes the run with the input's
    defaults when nobody has by then (no process needs to be alive for it).

    There is no `validate_before_resume` here: a suspended run has no live process to judge an
    answer, so its resume commits what the schema accepts (as does a resume of a pause that was
    suspended from elsewhere) and the model's validators run when the run executes again.
    `assignees` and `allow_self_approval` work as for `pause_flow_run`.
    """
    chosen = check_assignees(assignees)
    context = current_flow_run()
    other = flow_run_id is not None and (
        context is None or UUID(str(flow_run_id)) != context.flow_run.id
    )
    if other:
        assert flow_run_id is not None
        # Unique: that run may be suspended from outside again after each resume.
        other_key = key or f"suspended-external-{uuid.uuid4().hex[:12]}"
        run_input_cls = run_input_class_for(wait_for_input) if wait_for_input is not None else None
        timeout_input = _timeout_defaults(run_input_cls, on_timeout, timeout, "suspend_flow_run")
        try:
            await get_client().pause_flow_run.aio(
                flow_run_id,
                other_key,
                schema=run_input_cls.model_json_schema() if run_input_cls else None,
                description=run_input_cls.description() if run_input_cls else None,
                timeout=timeout,
                reschedule=True,
                on_timeout=on_timeout,
                timeout_input=timeout_input,
                assignees=chosen,
                allow_self_approval=allow_self_approval,
            )
        except InloopAPIError as exc:
            if exc.status_code != 409:
                raise
            raise CannotSuspend(f"flow run '{flow_run_id}' cannot be suspended: {exc.detail}") \
                from exc
        return None
    return await _pause(
        wait_for_input, timeout, 10, key, reschedule=True, on_timeout=on_timeout,
        assignees=chosen, allow_self_approval=allow_self_approval,
    )


@dual
async def resume_flow_run(
    flow_run_id: UUID | str, run_input: dict[str, Any] | BaseModel | None = None
) -> FlowRun:
    """Resume a paused or suspended run; the server checks `run_input` against its schema.

    Without `run_input`, a pause whose fields all have defaults is answered with its defaults.
    An answer the schema refuses raises InvalidResumeInput (a RuntimeError) listing each field.
    """
    payload = run_input.model_dump(mode="json") if isinstance(run_input, BaseModel) else run_input
    try:
        found = await get_client().resume_flow_run.aio(flow_run_id, payload)
    except InloopAPIError as exc:
        if exc.status_code != 422:
            raise
        raise InvalidResumeInput(flow_run_id, exc.detail) from None
    return FlowRun.model_validate(found)


@dual
async def create_resume_link(
    flow_run_id: UUID | str,
    *,
    recipient: str,
    expires_in: float | timedelta | None = None,
) -> str:
    """A signed link (a URL) that lets `recipient` answer the run's current pause, once.

    Opened in a browser it shows the pause's form; a mail scanner or link preview that fetches
    it changes nothing. The link works until it is used, until `expires_in` (seconds or a
    timedelta; the server's default is 7 days, at most 90), or until the run stops waiting on
    this pause, whichever comes first. The answer is recorded as given by `link:<recipient>`.
    """
    seconds = expires_in.total_seconds() if isinstance(expires_in, timedelta) else expires_in
    link = await get_client().create_resume_link.aio(flow_run_id, recipient, seconds)
    return link.url


# Explicit async twins (see inloop._dual): coroutine functions wherever they are called.
pause_flow_run_async = async_twin(pause_flow_run)
suspend_flow_run_async = async_twin(suspend_flow_run)
resume_flow_run_async = async_twin(resume_flow_run)
create_resume_link_async = async_twin(create_resume_link)
# The same twins under the reference's names.
apause_flow_run = pause_flow_run_async
asuspend_flow_run = suspend_flow_run_async
aresume_flow_run = resume_flow_run_async
acreate_resume_link = create_resume_link_async

