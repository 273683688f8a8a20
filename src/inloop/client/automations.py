"""Automations: apply specs, list them, switch them on and off, delete them, and read an
automation's delivery log.

Each function is a method of `InloopClient` (bound there, so `client.read_automations()`);
answers are the API's JSON objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from inloop._dual import dual
from inloop.automations import AutomationFile
from inloop.client._http import BaseClient

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
) -> list[dict[str, Any]]:
    """Create or replace each automation by name, all or nothing; each answer says
    `created`, `updated` or `unchanged`. A mapping is validated here first, so a bad spec
    is named before anything is sent."""
    spec = (
        automations
        if isinstance(automations, AutomationFile)
        else AutomationFile.model_validate(automations)
    )
    body = spec.model_dump(mode="json")
    result: list[dict[str, Any]] = await client._send("PUT", "/automations", json=body)
    return result


@dual
async def read_automations(client: BaseClient) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = await client._send("GET", "/automations")
    return result


@dual
async def read_automation(client: BaseClient, name: str) -> dict[str, Any]:
    result: dict[str, Any] = await client._send("GET", _path(name))
    return result


@dual
async def set_automation_enabled(client: BaseClient, name: str, enabled: bool) -> dict[str, Any]:
    result: dict[str, Any] = await client._send(
        "PATCH", _path(name), json={"enabled": enabled}
    )
    return result


@dual
async def delete_automation(client: BaseClient, name: str) -> dict[str, Any]:
    result: dict[str, Any] = await client._send("DELETE", _path(name))
    return result


@dual
async def read_automation_deliveries(
    client: BaseClient,
    name: str,
    *,
    status: str | None = None,
    before: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Deliveries newest first; the next page: `before` = the last one's id."""
    given = {"status": status, "before": before, "limit": limit}
    params = {key: value for key, value in given.items() if value is not None}
    result: list[dict[str, Any]] = await client._send(
        "GET", f"{_path(name)}/deliveries", params=params
    )
    return result
