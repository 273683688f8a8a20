"""HTTP calls for receive cursors (kept beside the client, which another area owns)."""

from __future__ import annotations

from uuid import UUID

from inloop.client import get_client

__all__ = ["advance_receive_cursor", "read_receive_cursor"]


async def read_receive_cursor(flow_run_id: UUID | str, name: str) -> int:
    """The input seq the run's cursor `name` has read up to (0 before any)."""
    found = await get_client()._send("GET", f"/flow_runs/{flow_run_id}/cursors/{name}")
    return int(found["after_seq"])


async def advance_receive_cursor(flow_run_id: UUID | str, name: str, after_seq: int) -> int:
    """Move the cursor forward (never back) and return where it stands; safe to send twice."""
    found = await get_client()._send(
        "PUT",
        f"/flow_runs/{flow_run_id}/cursors/{name}",
        json={"after_seq": after_seq},
        idempotent=True,
    )
    return int(found["after_seq"])
