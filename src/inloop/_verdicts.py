"""The paused flow judges answers with its own model: validate before resume, and reporting
an answer it refused after the resume (the seed's loop).

With `pause_flow_run(..., validate_before_resume=True)` the server offers each resume to the
waiting process before committing it. `judge_offers` runs beside the pause's wait: woken by the
server's long-poll, it builds the RunInput model from the offered value (so every field and
model validator runs, exactly as after the resume) and answers with the errors, if any.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from uuid import UUID

import httpx
import pydantic

from inloop.client import InloopAPIError, ServerUnavailable, get_client
from inloop.input.run_input import RunInput

__all__ = ["issues_of", "judge_offers", "model_errors", "report_rejection"]

log = logging.getLogger("inloop.flow_runs")
LONG_POLL_SECONDS = 30.0
RETRY_SECONDS = 1.0
# The server's bounds on a verdict (see server/api/offers.py).
MAX_ERRORS, MAX_LOC, MAX_MSG = 50, 32, 2000
VALUE_ERROR_PREFIX = "Value error, "


def _issue(error: Any) -> dict[str, Any]:
    message = str(error["msg"])
    if error["type"] == "value_error" and message.startswith(VALUE_ERROR_PREFIX):
        # A validator's own words ("Green is only in-stock for ..."), without pydantic's prefix.
        message = message[len(VALUE_ERROR_PREFIX):]
    loc = [part if isinstance(part, int) else str(part)[:200] for part in error["loc"]]
    return {"loc": loc[:MAX_LOC], "msg": message[:MAX_MSG], "type": str(error["type"])[:100]}


def issues_of(exc: pydantic.ValidationError) -> list[dict[str, Any]]:
    return [_issue(error) for error in exc.errors(include_url=False)[:MAX_ERRORS]]


def model_errors(run_input_cls: type[RunInput], value: Any) -> list[dict[str, Any]]:
    """Why the flow's model refuses `value` (located in the model: [] for the whole model,
    ["color"] for a field), or [] when it accepts it."""
    try:
        run_input_cls.model_validate(value if value is not None else {})
    except pydantic.ValidationError as exc:
        return issues_of(exc)
    except Exception as exc:  # a validator that crashed is not the answer's fault
        log.warning(
            "a validator of %s raised %s while judging an answer; accepting it, so the flow "
            "meets the same error when it reads the answer", run_input_cls.__name__,
            type(exc).__name__,
        )
    return []


async def judge_offers(flow_run_id: UUID, key: str, run_input_cls: type[RunInput]) -> None:
    """Answer every resume offered to pause `key` until cancelled (the pause's wait ended)."""
    client = get_client()
    after_id = 0
    while True:
        try:
            offers = await client.wait_for_resume_offers.aio(
                flow_run_id, key, after_id, wait=LONG_POLL_SECONDS
            )
        except (ServerUnavailable, httpx.TransportError):
            await asyncio.sleep(RETRY_SECONDS)  # the server is restarting; the wait goes on
            continue
        except InloopAPIError as exc:
            if exc.status_code < 500:
                raise
            await asyncio.sleep(RETRY_SECONDS)
            continue
        for offer in offers:
            after_id = max(after_id, offer.id)
            errors = model_errors(run_input_cls, offer.value)
            try:
                await client.answer_resume_offer.aio(flow_run_id, offer.id, errors)
            except InloopAPIError as exc:
                if exc.status_code != 409:
                    raise
                # Too late: the resume stopped waiting and went ahead; we judge it after.


async def report_rejection(flow_run_id: UUID, key: str, exc: pydantic.ValidationError) -> None:
    """Tell the server the flow refused the answer it was resumed with (an event automations
    can act on). Best effort: the refusal itself is the flow's to handle."""
    try:
        await get_client().report_input_rejected.aio(flow_run_id, key, issues_of(exc))
    except Exception as error:
        log.debug("could not record the rejected answer to %s: %s", key, error)
