"""The automations side of the client: apply specs, list, switch on and off, delete, and read
an automation's delivery log.

A mixin of `InloopClient`, like `_client_people`; every method goes through the client's one
`_send`. Answers are the API's JSON objects.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote

from inloop._dual import dual
from inloop.automations import AutomationFile

__all__ = ["AutomationMethods"]


def _path(name: str) -> str:
    return f"/automations/{quote(name, safe='')}"


class AutomationMethods:
    """Automations; needs the host class's `_send`."""

    _send: Callable[..., Awaitable[Any]]  # InloopClient's one way to the server

    @dual
    async def apply_automations(
        self, automations: AutomationFile | Mapping[str, Any]
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
        result: list[dict[str, Any]] = await self._send("PUT", "/automations", json=body)
        return result

    @dual
    async def read_automations(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._send("GET", "/automations")
        return result

    @dual
    async def read_automation(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._send("GET", _path(name))
        return result

    @dual
    async def set_automation_enabled(self, name: str, enabled: bool) -> dict[str, Any]:
        result: dict[str, Any] = await self._send(
            "PATCH", _path(name), json={"enabled": enabled}
        )
        return result

    @dual
    async def delete_automation(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._send("DELETE", _path(name))
        return result

    @dual
    async def read_automation_deliveries(
        self,
        name: str,
        *,
        status: str | None = None,
        before: str | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """Deliveries newest first; the next page: `before` = the last one's id."""
        given = {"status": status, "before": before, "limit": limit}
        params = {key: value for key, value in given.items() if value is not None}
        result: list[dict[str, Any]] = await self._send(
            "GET", f"{_path(name)}/deliveries", params=params
        )
        return result
