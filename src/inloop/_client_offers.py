"""The paused flow's side of validate-before-resume: read offered answers, give verdicts.

A mixin of `InloopClient` (kept apart so client.py stays about runs and inputs); every method
goes through the client's one `_send`, so retries and errors behave the same everywhere.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from inloop._client_people import LONG_POLL_SLACK
from inloop._dual import dual

__all__ = ["OfferMethods"]


class OfferMethods:
    """Resume offers and rejected answers; needs the host class's `_send`."""

    _send: Callable[..., Awaitable[Any]]  # InloopClient's one way to the server

    @dual
    async def wait_for_resume_offers(
        self, flow_run_id: UUID | str, key: str, after_id: int = 0, wait: float = 30.0
    ) -> list[dict[str, Any]]:
        """Undecided answers offered to pause `key` after `after_id` ({"id", "value"} each),
        waiting up to `wait` seconds for one; empty if none came."""
        found: list[dict[str, Any]] = await self._send(
            "GET",
            f"/flow_runs/{flow_run_id}/offers",
            params={"key": key, "after_id": after_id, "wait": wait},
            timeout=wait + LONG_POLL_SLACK,
        )
        return found

    @dual
    async def answer_resume_offer(
        self, flow_run_id: UUID | str, offer_id: int, errors: list[dict[str, Any]]
    ) -> None:
        """Accept an offered answer (no `errors`) or refuse it with the model's errors."""
        await self._send(
            "POST", f"/flow_runs/{flow_run_id}/offers/{offer_id}", json={"errors": errors}
        )

    @dual
    async def report_input_rejected(
        self, flow_run_id: UUID | str, key: str, errors: list[dict[str, Any]]
    ) -> None:
        """Record that the flow refused the answer it was resumed with at pause `key`."""
        await self._send(
            "POST",
            f"/flow_runs/{flow_run_id}/input_rejected",
            json={"key": key, "errors": errors},
        )
