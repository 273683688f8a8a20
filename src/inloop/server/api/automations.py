"""Automations: apply a file of specs (all or nothing), list, read, switch on and off, delete,
and read one automation's delivery log.

Specs hold Apprise URLs and webhook secrets, so reading them needs `automations:read`
(operators and admins), as blocks do; changing them needs `automations:manage` (admins).
Readers without `automations:manage` get the specs with those credentials redacted.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from sqlalchemy.exc import IntegrityError

from inloop.automations import AutomationFile, NotifyAction
from inloop.bounds import Text
from inloop.schemas import Applied, Automation, AutomationUpdate, Delivery
from inloop.server.access import PERMISSIONS, Principal
from inloop.server.api.deps import actor, get_db
from inloop.server.api.params import Name
from inloop.server.api.responses import errors
from inloop.server.automations.redaction import redact_spec
from inloop.server.automations.templates import check_templates
from inloop.server.database.engine import Database
from inloop.server.database.schema import UUID_LEN
from inloop.server.errors import Conflict, Invalid
from inloop.server.permissions import principal, require
from inloop.server.store import automations as store

router = APIRouter(tags=["automations"])


@router.put(
    "/automations", responses=errors(409, 422), dependencies=[require("automations:manage")]
)
async def apply_automations(
    body: AutomationFile, who: str = Depends(actor), db: Database = Depends(get_db)
) -> list[Applied]:
    """Create or replace each automation by name, all in one transaction: a file with one bad
    spec is refused whole (422 naming the field) and changes nothing. Notify templates are
    rendered once with sample data: one that fails or is over its budget is refused here."""
    await _check_templates(body)
    try:
        async with db.transaction() as tx:
            results = await store.apply_specs(tx, list(body.automations), who)
    except IntegrityError:
        # Only the unique name can break: another request created one of these meanwhile.
        raise Conflict(
            "another request created one of these automations at the same time; nothing was "
            "applied: apply the file again"
        ) from None
    return [
        Applied(name=automation["name"], outcome=outcome, automation=Automation(**automation))
        for outcome, automation in results
    ]


async def _check_templates(body: AutomationFile) -> None:
    problems: list[dict[str, Any]] = []
    for index, spec in enumerate(body.automations):
        for group in ("actions", "escalate"):
            for position, action in enumerate(getattr(spec, group)):
                if not isinstance(action, NotifyAction):
                    continue
                failed = await check_templates(action.title, action.body)
                if failed is not None:
                    field, message = failed
                    problems.append({
                        "loc": ["body", "automations", index, group, position, field],
                        "msg": f"automation {spec.name!r}, {group}[{position}].{field}: "
                               f"{message}",
                        "type": "value_error",
                    })
    if problems:
        raise Invalid(problems)


def _as_read_by(found: dict[str, Any], reader: Principal) -> Automation:
    if reader.role in PERMISSIONS["automations:manage"]:
        return Automation(**found)
    return Automation(**{**found, "spec": redact_spec(found["spec"]), "redacted": True})


@router.get("/automations", dependencies=[require("automations:read")])
async def list_automations(
    reader: Principal = Depends(principal), db: Database = Depends(get_db)
) -> list[Automation]:
    async with db.read() as conn:
        return [_as_read_by(found, reader) for found in await store.list_automations(conn)]


@router.get(
    "/automations/{name}", responses=errors(404), dependencies=[require("automations:read")]
)
async def read_automation(
    name: Name, reader: Principal = Depends(principal), db: Database = Depends(get_db)
) -> Automation:
    async with db.read() as conn:
        return _as_read_by(await store.require_automation(conn, name), reader)


@router.patch(
    "/automations/{name}",
    responses=errors(404, 422),
    dependencies=[require("automations:manage")],
)
async def update_automation(
    name: Name,
    body: AutomationUpdate,
    who: str = Depends(actor),
    db: Database = Depends(get_db),
) -> Automation:
    """Switch an automation on or off. Off: new events plan no deliveries for it."""
    async with db.transaction() as tx:
        return Automation(**await store.set_enabled(tx, name, body.enabled, who))


@router.delete(
    "/automations/{name}", responses=errors(404), dependencies=[require("automations:manage")]
)
async def delete_automation(
    name: Name, who: str = Depends(actor), db: Database = Depends(get_db)
) -> Automation:
    """Delete an automation with its delivery log; answers the automation as it was."""
    async with db.transaction() as tx:
        return Automation(**await store.delete_automation(tx, name, who))


@router.get(
    "/automations/{name}/deliveries",
    responses=errors(404, 422),
    dependencies=[require("automations:read")],
)
async def read_deliveries(
    name: Name,
    status: Annotated[
        Literal["pending", "delivered", "failed", "skipped"] | None, Query()
    ] = None,
    before: Annotated[
        Text | None,
        Query(max_length=UUID_LEN, description="The id of the last delivery of the previous page."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=store.MAX_DELIVERY_PAGE)] = 50,
    db: Database = Depends(get_db),
) -> list[Delivery]:
    """One automation's deliveries, newest first, each with its latest attempts."""
    async with db.read() as conn:
        found = await store.list_deliveries(
            conn, name, status=status, before=before, limit=limit
        )
    return [Delivery(**delivery) for delivery in found]
