"""Automations: apply specs, list them, switch them on and off, delete them, and read an
automation's delivery log.

Each function is a method of `InloopClient` (bound there, so `client.read_automations()`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from inloop._dual import dual
from inloop.automations import AutomationFile
from inloop.client._http import BaseClient
from inloop.schemas import Applied, Automation, Delivery

__all__ = [
    "apply_automations",
    "delete_automation",
    "read_automation",
    "read_automation_deliveries",
    "read_automations",
    "set_automation_enabled",
]


def _path(name: str) -> str:
    return f"/automations/{quote(name, safe='')}"


@dual
async def apply_automations(
    client: BaseClient, automations: AutomationFile | Mapping[str, Any]
) -> list[Applied]:
    """Create or replace each automation by name, all or nothing; each answer says
    `created`, `updated` or `unchanged`. A mapping is validated here first, so a bad spec
    is named before anything is sent."""
    spec = (
        automations
        if isinstance(automations, AutomationFile)
        else AutomationFile.model_validate(automations)
    )
    body = spec.model_dump(mode="json")
    found = await client._send("PUT", "/automations", json=body)
    return [Applied.model_validate(item) for item in found]


@dual
async def read_automations(client: BaseClient) -> list[Automation]:
    found = await client._send("GET", "/automations")
    return [Automation.model_validate(item) for item in found]


@dual
async def read_automation(client: BaseClient, name: str) -> Automation:
    return Automation.model_validate(await client._send("GET", _path(name)))


@dual
async def set_automation_enabled(client: BaseClient, name: str, enabled: bool) -> Automation:
    found = await client._send("PATCH", _path(name), json={"enabled": enabled})
    return Automation.model_validate(found)


@dual
async def delete_automation(client: BaseClient, name: str) -> Automation:
    """The automation as it was before it was deleted."""
    return Automation.model_validate(await client._send("DELETE", _path(name)))


@dual
async def read_automation_deliveries(
    client: BaseClient,
    name: str,
    *,
    status: str | None = None,
    before: str | None = None,
    limit: int = 50,
) -> list[Delivery]:
    """Deliveries newest first; the next page: `before` = the last one's id."""
    given = {"status": status, "before": before, "limit": limit}
    params = {key: value for key, value in given.items() if value is not None}
    found = await client._send("GET", f"{_path(name)}/deliveries", params=params)
    return [Delivery.model_validate(item) for item in found]
