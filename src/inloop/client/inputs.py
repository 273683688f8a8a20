"""Run inputs: send them, read them by key or in order (long-polling for new ones), and the
receive cursors that remember how far a named reader got.

Each function is a method of `InloopClient` (bound there, so `client.read_flow_run_inputs(id)`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from inloop._dual import dual
from inloop.client._http import LONG_POLL_SLACK, BaseClient, ObjectNotFound
from inloop.schemas import FlowRunInput

__all__ = [
    "advance_receive_cursor",
    "create_flow_run_input",
    "filter_flow_run_inputs",
    "read_flow_run_input",
    "read_flow_run_inputs",
    "read_receive_cursor",
]


@dual
async def create_flow_run_input(
    client: BaseClient, flow_run_id: UUID | str, key: str, value: Any, sender: str | None = None
) -> FlowRunInput:
    body = {"key": key, "value": value, "sender": sender}
    # The key names this input: the server answers a repeat with the stored row.
    found = await client._send(
        "POST", f"/flow_runs/{flow_run_id}/input", json=body, idempotent=True
    )
    return FlowRunInput.model_validate(found)


@dual
async def read_flow_run_input(
    client: BaseClient, flow_run_id: UUID | str, key: str
) -> FlowRunInput | None:
    try:
        found = await client._send("GET", f"/flow_runs/{flow_run_id}/input/{key}")
    except ObjectNotFound as exc:
        if "no input with key" in str(exc.detail):
            return None
        raise
    return FlowRunInput.model_validate(found)


@dual
async def filter_flow_run_inputs(
    client: BaseClient,
    flow_run_id: UUID | str,
    prefix: str | None = None,
    after_seq: int = 0,
    limit: int = 100,
    wait: float = 0,
    exclude_keys: Sequence[str] = (),
) -> list[FlowRunInput]:
    body = {
        "prefix": prefix,
        "after_seq": after_seq,
        "limit": limit,
        "wait": wait,
        "exclude_keys": list(exclude_keys),
    }
    found = await client._send(
        "POST",
        f"/flow_runs/{flow_run_id}/input/filter",
        json=body,
        timeout=wait + LONG_POLL_SLACK,
        idempotent=True,
    )
    return [FlowRunInput.model_validate(item) for item in found]


@dual
async def read_flow_run_inputs(client: BaseClient, flow_run_id: UUID | str) -> list[FlowRunInput]:
    found = await client._send("GET", f"/flow_runs/{flow_run_id}/inputs")
    return [FlowRunInput.model_validate(item) for item in found]


# --- receive cursors ------------------------------------------------------------------------------
@dual
async def read_receive_cursor(client: BaseClient, flow_run_id: UUID | str, name: str) -> int:
    """The input seq the run's cursor `name` has read up to (0 before any)."""
    found = await client._send("GET", f"/flow_runs/{flow_run_id}/cursors/{name}")
    return int(found["after_seq"])


@dual
async def advance_receive_cursor(
    client: BaseClient, flow_run_id: UUID | str, name: str, after_seq: int
) -> int:
    """Move the cursor forward (never back) and return where it stands; safe to send twice."""
    found = await client._send(
        "PUT",
        f"/flow_runs/{flow_run_id}/cursors/{name}",
        json={"after_seq": after_seq},
        idempotent=True,
    )
    return int(found["after_seq"])
