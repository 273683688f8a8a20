"""Pausing, suspending and resuming a run: where run state and inputs meet.

A pause writes its schema and description as inputs under the pause key, then moves the run to
PAUSED (process alive) or SUSPENDED (process gone). A resume validates the answer against that
schema with jsonschema, stores it under `<key>-response` and moves the run on, all in one
transaction, so two concurrent resumes cannot both win. This module is the answer path: the
only writer of `<key>-response` (store/inputs refuses that key to everyone else), and only for
the pause the run waits on now, after `access.check_may_answer` accepted the answerer. Only
`inloop.server.answering` calls `resume_run` and `resume_overdue_with_defaults`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from jsonschema import validators
from jsonschema.exceptions import SchemaError
from referencing import Registry
from referencing.exceptions import Unresolvable

from inloop.event_kinds import EventKind
from inloop.schemas import FlowRun, PauseRequest, StateType
from inloop.server.access import Answerer, PauseRules, check_may_answer, refusal
from inloop.server.database.engine import Connection, Tx
from inloop.server.database.schema import flow_runs, utcnow
from inloop.server.errors import Conflict, Invalid
from inloop.server.store import events, inputs, liveness, runs

__all__ = [
    "TIMEOUT_ACTOR",
    "UnusableSchema",
    "pause_run",
    "read_pause",
    "record_refused_answer",
    "record_rejected_resume",
    "resume_overdue_with_defaults",
    "resume_run",
    "rules_of",
    "schema_problem",
    "validate_against_schema",
    "with_defaults",
]


TIMEOUT_ACTOR = "timeout"


class UnusableSchema(Exception):
    """A stored schema nothing can be validated against (invalid, unresolvable, cyclic)."""


def schema_problem(schema: Any) -> str | None:
    """Why `schema` is not a valid JSON schema, or None when it is."""
    try:
        validators.validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        return f"not a valid JSON schema: {exc.message}"
    return None


async def pause_run(
    tx: Tx,
    run_id: str,
    request: PauseRequest,
    *,
    actor: str | None = None,
    remote: str | None = None,
) -> FlowRun:
    row = await runs.lock_run(tx, run_id)
    new = StateType.SUSPENDED if request.reschedule else StateType.PAUSED
    current = StateType(row.state_type)
    if current is not StateType.RUNNING and not (
        current is StateType.PAUSED and new is StateType.SUSPENDED
    ):
        raise Conflict(
            f"flow run '{row.name}' is {current.display_name}; only a running flow run can "
            f"be {'suspended' if request.reschedule else 'paused'}"
        )
    if request.reschedule and row.deployment_id is None:
        raise Conflict(
            f"flow run '{row.name}' has no deployment, so nothing could run it again after a "
            "suspension; serve the flow (Flow.serve) and start it from its deployment, or use "
            "pause_flow_run, which keeps the process waiting"
        )
    inputs.check_key(request.key)
    if await inputs.read_input(tx, run_id, f"{request.key}-response") is not None:
        raise Conflict(
            f"flow run '{row.name}' already has an answer for pause key {request.key!r}; "
            "use a new key"
        )
    if request.schema_ is not None:
        problem = schema_problem(request.schema_)
        if problem is not None:
            raise Invalid(
                [{"loc": ["body", "schema"], "msg": problem, "type": "value_error.schema"}]
            )
    # Both written (or removed) now, even when the pause asks for no input: whatever was sent
    # under these keys before the pause began is not its question, so no one can pose one.
    await inputs.put_input(tx, run_id, f"{request.key}-schema", request.schema_, None)
    await inputs.put_input(tx, run_id, f"{request.key}-description", request.description, None)
    timeout_input = _timeout_answer(request) if request.on_timeout == "defaults" else None
    now = utcnow()
    deadline = now + timedelta(seconds=request.timeout) if request.timeout is not None else None
    details = {
        "pause_key": request.key,
        "has_input": request.schema_ is not None,
        "description": request.description,
        "timeout": request.timeout,
        "on_timeout": request.on_timeout,
    }
    if request.validate_before_resume and not request.reschedule:
        # Read by store/offers.py: resumes of this pause are offered to the flow first. A
        # suspension has no process to ask, so there it is never set.
        details["validate_before_resume"] = True
    if request.assignees or not request.allow_self_approval:
        # Only when set, so a plain pause's event reads as it always has.
        details["assignees"] = request.assignees or []
        details["allow_self_approval"] = request.allow_self_approval
    extra: dict[str, Any] = {
        "pause_key": request.key,
        "pause_deadline": deadline,
        "pause_reschedule": request.reschedule,
        "pause_started": now,
        "pause_on_timeout": "defaults" if request.on_timeout == "defaults" else None,
        "pause_timeout_input": timeout_input,
        "pause_assignees": request.assignees,
        "pause_allow_self_approval": request.allow_self_approval,
    }
    if row.heartbeat_at is not None:
        # A beating process asks for this pause, so it is alive now (see resume_run and
        # store/liveness). A run nothing ever beat for is never judged by silence.
        extra["heartbeat_at"] = now
    return await runs.write_state(
        tx, row, new, None, details, extra, actor=actor, remote=remote
    )


def _timeout_answer(request: PauseRequest) -> dict[str, Any] | None:
    """The answer the server gives this pause at its deadline, checked now, at pause time.

    A pause resumed by a clock must not find out then that its defaults do not fit.
    """
    if request.timeout is None:
        raise Invalid(
            [{"loc": ["body", "timeout"],
              "msg": "on_timeout='defaults' needs a timeout: it says what happens when the "
                     "timeout passes; give one (seconds) or leave on_timeout='fail'",
              "type": "value_error.missing_timeout"}]
        )
    schema = request.schema_
    if schema is None:
        if request.timeout_input:
            raise Invalid(
                [{"loc": ["body", "timeout_input"],
                  "msg": "this pause asks for no input, so its timeout answer must be empty",
                  "type": "unexpected"}]
            )
        return None
    answer = request.timeout_input
    if answer is None:
        answer = with_defaults(schema, {})
    errors = validate_against_schema(schema, answer)
    missing = [e["loc"][-1] for e in errors if e["type"] == "jsonschema.required"]
    if missing:
        raise Invalid(
            [{"loc": ["body", "timeout_input"],
              "msg": "on_timeout='defaults' needs a default for every field; no default for "
                     f"{', '.join(repr(str(name)) for name in missing)}: give those fields "
                     "defaults or leave on_timeout='fail'",
              "type": "value_error.missing_defaults"}]
        )
    if errors:
        raise Invalid(
            [{**error, "loc": ["body", "timeout_input", *error["loc"][1:]]} for error in errors]
        )
    return answer


async def resume_overdue_with_defaults(tx: Tx) -> list[str]:
    """Resume each waiting run that opted in and whose deadline passed, with its defaults.

    Each run is locked and checked again before it is resumed: with several server replicas
    (or a person resuming at the same moment) only the first to take the lock resumes it.
    """
    now = utcnow()
    due = await tx.execute(
        sa.select(flow_runs.c.id)
        .where(flow_runs.c.state_type.in_([StateType.PAUSED.value, StateType.SUSPENDED.value]))
        .where(flow_runs.c.pause_on_timeout == "defaults")
        .where(flow_runs.c.pause_deadline < now)
        .limit(100)
    )
    resumed = []
    for (run_id,) in due.all():
        row = await runs.lock_run(tx, run_id)
        if (
            StateType(row.state_type) not in (StateType.PAUSED, StateType.SUSPENDED)
            or row.pause_on_timeout != "defaults"
            or row.pause_deadline is None
            or row.pause_deadline >= now
        ):
            continue  # resumed, cancelled or paused anew meanwhile
        key = row.pause_key
        await inputs.create_input(
            tx, run_id, f"{key}-response", row.pause_timeout_input, TIMEOUT_ACTOR,
            actor=TIMEOUT_ACTOR, answering=True,
        )
        new = StateType.SCHEDULED if row.pause_reschedule else StateType.RUNNING
        waited = (row.pause_deadline - row.pause_started).total_seconds()
        await runs.write_state(
            tx,
            row,
            new,
            f"nobody answered '{key}' within {waited:g} s: resumed with its defaults",
            {"resumed_by": TIMEOUT_ACTOR, "pause_key": key,
             "run_input": row.pause_timeout_input},
            actor=TIMEOUT_ACTOR,
            kind=EventKind.FLOW_RUN_RESUMED,
        )
        resumed.append(run_id)
    return resumed


def rules_of(run: FlowRun) -> PauseRules:
    """What the run's current pause asks of whoever answers it (a waiting run without pause
    details, which no current server writes, asks nothing beyond the roles)."""
    if run.pause is None:
        return PauseRules([], True, run.created_by)
    return PauseRules(run.pause.assignees, run.pause.allow_self_approval, run.created_by)


async def read_pause(
    conn: Connection,
    run_id: str,
    answerer: Answerer | None = None,
    *,
    users_mode: bool = False,
) -> dict[str, Any]:
    """What a waiting run asks for: its pause key, JSON schema, description, deadline, who may
    answer it, and (given the `answerer`) whether they may, and if not, why not."""
    run = await runs.require_run(conn, run_id)
    if run.pause is None:
        raise Conflict(
            f"flow run '{run.name}' is not paused (state: {run.state.name}); "
            "only paused or suspended runs wait for input"
        )
    schema = await inputs.read_input(conn, run_id, f"{run.pause.key}-schema")
    description = await inputs.read_input(conn, run_id, f"{run.pause.key}-description")
    found = {
        "key": run.pause.key,
        "schema": schema.value if schema else None,
        "description": description.value if description else None,
        "deadline": run.pause.deadline,
        "reschedule": run.pause.reschedule,
        "on_timeout": run.pause.on_timeout,
        "assignees": run.pause.assignees,
        "allow_self_approval": run.pause.allow_self_approval,
        "created_by": run.created_by,
    }
    if answerer is not None:
        refused = refusal(answerer, rules_of(run), users_mode=users_mode)
        found["can_answer"] = refused is None
        found["cannot_answer_because"] = refused[1] if refused else None
    return found


def with_defaults(schema: Any, value: dict[str, Any]) -> dict[str, Any]:
    """`value` with each top-level property the schema gives a default and `value` lacks."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return value
    filled = dict(value)
    for name, spec in properties.items():
        if name not in filled and isinstance(spec, dict) and "default" in spec:
            filled[name] = spec["default"]
    return filled


def validate_against_schema(schema: dict[str, Any], value: Any) -> list[dict[str, Any]]:
    """Every violation, as FastAPI-style error dicts located under `run_input`.

    Raises UnusableSchema when the schema itself is broken: stored before schemas were checked,
    or valid in form but with a `$ref` that resolves nowhere or only to itself. An empty
    registry keeps `$ref`s local: the server never fetches a URL a schema names.
    """
    problem = schema_problem(schema)
    if problem is not None:
        raise UnusableSchema(problem)
    validator_cls = validators.validator_for(schema)
    validator = validator_cls(
        schema, registry=Registry(), format_checker=validator_cls.FORMAT_CHECKER
    )
    try:
        found = sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.path)))
    except Unresolvable as exc:
        raise UnusableSchema(f"its $ref does not resolve: {exc}") from exc
    except RecursionError as exc:
        raise UnusableSchema("its $refs refer to each other in an endless loop") from exc
    errors = []
    for error in found:
        loc: list[Any] = ["run_input", *error.path]
        message = error.message
        if error.validator == "required" and isinstance(error.validator_value, list):
            # Point the error at the missing field itself, so a form can show it there.
            missing = [f for f in error.validator_value if isinstance(error.instance, dict)
                       and f not in error.instance and error.message.startswith(f"{f!r} ")]
            if len(missing) == 1:
                loc.append(missing[0])
                message = f"field '{missing[0]}' is required"
        elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
            message = f"{error.message}; remove the unexpected field(s)"
        errors.append({"loc": loc, "msg": message, "type": f"jsonschema.{error.validator}"})
    return errors


async def resume_run(
    tx: Tx,
    run_id: str,
    run_input: dict[str, Any] | None,
    answerer: Answerer,
    waiter_grace: float | None = None,
    *,
    users_mode: bool,
    remote: str | None = None,
    expected_key: str | None = None,
    verdict: str | None = None,
) -> FlowRun:
    """Store the answer and move the run on; or, when the process waiting on this pause has
    been silent for more than `waiter_grace` seconds, mark the run CRASHED and return that
    instead (the caller refuses the resume: an acknowledged answer nobody reads is a lie).

    `expected_key`: the pause the answer was judged for (by the flow's validators); if the run
    now waits at another pause, the answer is refused rather than given to a question it was
    never checked against. `verdict` says how that went (`accepted`, or `no-answer` when the
    flow did not judge in time), for the `flow-run.resumed` event.

    Every resume comes through here, so here is where `access` decides who may answer:
    an answerer the pause's rules refuse gets AnswerRefused (403) and nothing changes.
    """
    resumed_by = answerer.actor
    row = await runs.lock_run(tx, run_id)
    current = StateType(row.state_type)
    if current not in (StateType.PAUSED, StateType.SUSPENDED):
        why = f" ({row.state_message})" if row.state_message else ""
        raise Conflict(
            f"flow run '{row.name}' is not paused (state: {row.state_name}); "
            f"only paused or suspended runs can be resumed{why}"
        )
    check_may_answer(answerer, rules_of(runs.to_flow_run(row)), users_mode=users_mode)
    if (
        current is StateType.PAUSED
        and waiter_grace is not None
        and row.heartbeat_at is not None
        and (utcnow() - row.heartbeat_at).total_seconds() > waiter_grace
    ):
        # The same judgement, budget and words as the reaper's (store/liveness), made now so
        # the answer is refused rather than acknowledged to a process that is gone.
        return await runs.write_state(
            tx,
            row,
            StateType.CRASHED,
            liveness.silence_message(current, row.heartbeat_at, waiter_grace),
            liveness.silence_details(row.heartbeat_at, waiter_grace),
            actor="server",
        )
    if row.pause_deadline is not None and row.pause_deadline < utcnow():
        if row.pause_on_timeout == "defaults":
            raise Conflict(
                f"flow run '{row.name}' waited until {row.pause_deadline.isoformat()}; the "
                "server is resuming it with its defaults, as the pause asked"
            )
        raise Conflict(
            f"flow run '{row.name}' waited until {row.pause_deadline.isoformat()} and timed out; "
            "it can no longer be resumed"
        )
    key = row.pause_key
    if expected_key is not None and key != expected_key:
        raise Conflict(
            f"flow run '{row.name}' moved on from pause key {expected_key!r} to {key!r} while "
            "the flow checked this answer; read the new pause and answer it"
        )
    schema = await inputs.read_input(tx, run_id, f"{key}-schema")
    if schema is not None:
        if run_input is None:
            # No input means "take the defaults" (stored, so any reader sees the answer); a
            # field without one is then reported missing by name.
            run_input = with_defaults(schema.value, {})
        try:
            errors = validate_against_schema(schema.value, run_input)
        except UnusableSchema as exc:
            raise Conflict(
                f"flow run '{row.name}' cannot be resumed: the schema stored for pause key "
                f"{key!r} is unusable ({exc}); cancel the run and fix the flow's input type"
            ) from exc
        if errors:
            raise Invalid(errors)
    elif run_input:
        raise Invalid(
            [{"loc": ["body", "run_input"],
              "msg": f"flow run '{row.name}' paused without asking for input; resume it "
                     "without run_input",
              "type": "unexpected"}]
        )
    # Stored even without a schema: a run executed again after a suspension finds it and
    # knows this pause is behind it. The answer path is the only writer of this key (see
    # store/inputs), so a stored answer is always one the pause's rules accepted.
    await inputs.create_input(
        tx, run_id, f"{key}-response", run_input, resumed_by, actor=resumed_by, remote=remote,
        answering=True,
    )
    new = StateType.SCHEDULED if row.pause_reschedule else StateType.RUNNING
    return await runs.write_state(
        tx,
        row,
        new,
        None,
        {"resumed_by": resumed_by, "pause_key": key},
        actor=resumed_by,
        remote=remote,
        kind=EventKind.FLOW_RUN_RESUMED,
        noted={"flow_verdict": verdict} if verdict is not None else None,
    )


async def record_rejected_resume(
    tx: Tx,
    run_id: str,
    errors: list[dict[str, Any]],
    *,
    actor: str | None,
    remote: str | None = None,
    key: str | None = None,
    by: str = "schema",
) -> None:
    """Note an answer that was refused: `by` the pause's JSON schema (its own transaction: the
    resume rolled back), or `by` the flow's own validators, before the resume (the pause opted
    in) or after it (the seed's loop: the flow caught the ValidationError and asks again).

    Only where and why each field failed is kept; messages can quote the value, so they are not.
    """
    row = await runs.lock_run(tx, run_id)
    await events.record(
        tx,
        EventKind.FLOW_RUN_INPUT_REJECTED,
        actor=actor,
        flow_run_id=run_id,
        remote=remote,
        details={
            "key": key or row.pause_key,
            "by": by,
            "errors": [
                {"loc": [str(part) for part in error.get("loc", [])], "type": error.get("type")}
                for error in errors[:20]
            ],
        },
    )


async def record_refused_answer(
    tx: Tx,
    run_id: str,
    rule: str,
    message: str,
    *,
    actor: str,
    remote: str | None = None,
) -> None:
    """Note an answer a pause's rules refused (its own transaction: the resume rolled back)."""
    row = await runs.lock_run(tx, run_id)
    await events.record(
        tx,
        EventKind.FLOW_RUN_RESUME_REFUSED,
        actor=actor,
        flow_run_id=run_id,
        remote=remote,
        details={"key": row.pause_key, "rule": rule, "reason": message},
    )
