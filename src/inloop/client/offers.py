"""Resume offers: the paused flow's side of validate-before-resume (read the answers offered,
accept or refuse each, report an answer it refused after resuming).

Each function is a method of `InloopClient` (bound there, so `client.answer_resume_offer(...)`).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from inloop._dual import dual
from inloop.client._http import LONG_POLL_SLACK, BaseClient
from inloop.schemas import Offer

__all__ = ["answer_resume_offer", "report_input_rejected", "wait_for_resume_offers"]


@dual
async def wait_for_resume_offers(
    client: BaseClient, flow_run_id: UUID | str, key: str, after_id: int = 0, wait: float = 30.0
) -> list[Offer]:
    """Undecided answers offered to pause `key` after `after_id`, waiting up to `wait`
    seconds for one; empty if none came."""
    found = await client._send(
        "GET",
        f"/flow_runs/{flow_run_id}/offers",
        params={"key": key, "after_id": after_id, "wait": wait},
        timeout=wait + LONG_POLL_SLACK,
    )
    return [Offer.model_validate(item) for item in found]


@dual
async def answer_resume_offer(
    client: BaseClient, flow_run_id: UUID | str, offer_id: int, errors: list[dict[str, Any]]
) -> None:
    """Accept an offered answer (no `errors`) or refuse it with the model's errors."""
    await client._send(
        "POST", f"/flow_runs/{flow_run_id}/offers/{offer_id}", json={"errors": errors}
    )


@dual
async def report_input_rejected(
    client: BaseClient, flow_run_id: UUID | str, key: str, errors: list[dict[str, Any]]
) -> None:
    """Record that the flow refused the answer it was resumed with at pause `key`."""
    await client._send(
        "POST",
        f"/flow_runs/{flow_run_id}/input_rejected",
        json={"key": key, "errors": errors},
    )
