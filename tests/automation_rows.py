"""Delivery and attempt rows written straight into a test server's database.

The delivery engine plans and sends these; tests of the management surface (the API's
delivery log, the CLI, the UI page) insert them directly so they do not depend on it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from inloop.server.database.schema import automation_attempts, automation_deliveries
from tests.automation_helpers import with_database

__all__ = ["count_rows", "insert_delivery"]


def _run(info: Any, work: Any) -> Any:
    """`work(tx)` in one transaction on the server's database (the helpers' one way in)."""

    async def in_transaction(db: Any) -> Any:
        async with db.transaction() as tx:
            return await work(tx)

    return with_database(info, in_transaction)


def insert_delivery(
    info: Any,
    automation_id: str,
    *,
    flow_run_id: str | None = None,
    event_kind: str = "flow-run.paused",
    stage: int = 0,
    status: str = "delivered",
    errors: tuple[str | None, ...] = (None,),
    age: timedelta = timedelta(0),
) -> str:
    """One delivery with one attempt per entry of `errors` (None: that attempt succeeded)."""
    delivery_id = str(uuid.uuid4())
    created = datetime.now(UTC) - age
    last_error = next((e for e in reversed(errors) if e is not None), None)

    async def work(conn: Any) -> None:
        await conn.execute(
            automation_deliveries.insert().values(
                id=delivery_id, automation_id=automation_id, event_id=None,
                event_kind=event_kind, flow_run_id=flow_run_id, state_id=None, stage=stage,
                action_index=0, target_index=0, status=status, due=created,
                attempts=len(errors), claimed_until=None, last_error=last_error,
                created=created, finished=None if status == "pending" else created,
            )
        )
        for index, error in enumerate(errors):
            await conn.execute(
                automation_attempts.insert().values(
                    delivery_id=delivery_id, started=created + timedelta(seconds=index),
                    duration_ms=12, ok=error is None, error=error,
                )
            )

    _run(info, work)
    return delivery_id


def count_rows(info: Any, automation_id: str, delivery_ids: list[str]) -> tuple[int, int]:
    """(deliveries of the automation, attempts of these deliveries) in the database."""

    async def work(conn: Any) -> tuple[int, int]:
        d, a = automation_deliveries, automation_attempts
        deliveries = (
            await conn.execute(
                sa.select(sa.func.count()).select_from(d).where(d.c.automation_id == automation_id)
            )
        ).scalar_one()
        attempts = (
            await conn.execute(
                sa.select(sa.func.count()).select_from(a).where(a.c.delivery_id.in_(delivery_ids))
            )
        ).scalar_one()
        return int(deliveries), int(attempts)

    result: tuple[int, int] = _run(info, work)
    return result
