"""Flow run inputs: send one, read one, and filter by type prefix from a sequence cursor."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from inloop.schemas import INPUT_KEY_PATTERN, FlowRunInput, InputCreate, InputFilter
from inloop.server.access import AnswerRefused
from inloop.server.api.deps import actor, calling_run, get_db, remote_address
from inloop.server.api.fast_json import json_response
from inloop.server.api.params import RunId
from inloop.server.api.responses import errors
from inloop.server.database.engine import Database
from inloop.server.errors import NotFound
from inloop.server.permissions import require
from inloop.server.run_tokens import stamp_sender
from inloop.server.store import inputs, pauses, runs
from inloop.server.wakeups import wait_until

router = APIRouter(prefix="/flow_runs/{flow_run_id}", tags=["inputs"])


@router.post(
    "/input",
    status_code=201,
    response_model=FlowRunInput,
    responses={
        200: {
            "model": FlowRunInput,
            "description": "A retry: this key already held this value from this sender.",
        },
        **errors(401, 403, 404, 409, 413, 422),
    },
    dependencies=[require("inputs:send")],
)
async def create_input(
    flow_run_id: RunId,
    body: InputCreate,
    db: Database = Depends(get_db),
    caller: str | None = Depends(calling_run),
    who: str = Depends(actor),
    remote: str | None = Depends(remote_address),
) -> Response:
    """Store an input (201); the same key, value and sender again is the same input (200).

    A flow run's sender is set from its run token, never from the body. A pause's answer
    (`<key>-response`, of any pause, now or later) is never sent here: 403, recorded, naming
    the answer path (`/resume`, a link); nor, while it waits, its `-schema`/`-description` (409).
    """
    inputs.check_key(body.key)
    sender = stamp_sender(body.sender, caller)
    try:
        async with db.transaction() as tx:
            stored, created = await inputs.create_input(
                tx, flow_run_id, body.key, body.value, sender, actor=who, remote=remote
            )
    except AnswerRefused as exc:
        async with db.transaction() as tx:
            await pauses.record_refused_answer(
                tx, flow_run_id, exc.rule, str(exc.detail), actor=who, remote=remote
            )
        raise
    return json_response(stored, FlowRunInput, 201 if created else 200)


@router.post(
    "/input/filter", response_model=list[FlowRunInput], responses=errors(404, 413, 422),
    dependencies=[require("runs:read")],
)
async def filter_inputs(
    flow_run_id: RunId, body: InputFilter, db: Database = Depends(get_db)
) -> Response:
    """Inputs after `after_seq` whose key starts with `prefix-`; long-polls up to `wait` s."""
    checked = False

    async def matching() -> list[FlowRunInput] | None:
        nonlocal checked
        async with db.read() as conn:
            found = await inputs.filter_inputs(
                conn,
                flow_run_id,
                prefix=body.prefix,
                after_seq=body.after_seq,
                exclude_keys=body.exclude_keys,
                limit=body.limit,
            )
            if not found and not checked:
                # Only an empty answer needs to tell "no inputs yet" from "no such run".
                await runs.require_run_exists(conn, flow_run_id)
                checked = True
        return found or None

    found = await wait_until(db.hub, [f"inputs:{flow_run_id}"], matching, body.wait)
    return json_response(found or [], list[FlowRunInput])


@router.get("/input/{key}", responses=errors(404, 422), dependencies=[require("runs:read")])
async def read_input(
    flow_run_id: RunId,
    key: str = Path(max_length=200, pattern=INPUT_KEY_PATTERN.pattern),
    db: Database = Depends(get_db),
) -> FlowRunInput:
    inputs.check_key(key)
    async with db.read() as conn:
        await runs.require_run(conn, flow_run_id)
        found = await inputs.read_input(conn, flow_run_id, key)
    if found is None:
        raise NotFound(f"flow run '{flow_run_id}' has no input with key {key!r}")
    return found


@router.get("/inputs", responses=errors(404, 422), dependencies=[require("runs:read")])
async def list_inputs(flow_run_id: RunId, db: Database = Depends(get_db)) -> list[FlowRunInput]:
    async with db.read() as conn:
        await runs.require_run(conn, flow_run_id)
        return await inputs.list_inputs(conn, flow_run_id)
