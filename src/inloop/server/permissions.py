"""Which role may do what: one table, and `require(permission)` for each route to name its need.

A flow run's process that authenticates with its run token alone acts as a `worker`, and the
permissions in RUN_SCOPED let it touch only its own run.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request

from inloop.server.errors import Forbidden
from inloop.server.identity import PRINCIPAL_KEY, Principal

__all__ = ["PERMISSIONS", "RUN_SCOPED", "principal", "require"]

_READERS = ("viewer", "responder", "operator", "worker", "admin")

PERMISSIONS: dict[str, tuple[str, ...]] = {
    "runs:read": _READERS,
    "runs:create": ("operator", "worker", "admin"),
    "runs:set_state": ("worker", "admin"),
    "runs:pause": ("worker", "admin"),
    "runs:heartbeat": ("worker", "admin"),
    # A paused flow judging the answers offered to it (validate before resume).
    "runs:validate": ("worker", "admin"),
    "runs:cancel": ("operator", "admin"),
    "runs:resume": ("responder", "operator", "admin"),
    # A resume link lets whoever holds it answer a pause without an account: only for roles
    # that may hand out that power.
    "links:create": ("operator", "admin"),
    "inputs:send": ("responder", "operator", "worker", "admin"),
    "logs:write": ("worker", "admin"),
    "task_results:write": ("worker", "admin"),
    "cursors:write": ("worker", "admin"),
    # Blocks hold configuration and, often, credentials: not for people who only read runs.
    "blocks:read": ("operator", "worker", "admin"),
    "blocks:write": ("operator", "worker", "admin"),
    "deployments:register": ("worker", "admin"),
    "deployments:run": ("operator", "admin"),
    "runners:claim": ("worker", "admin"),
    "users:manage": ("admin",),
    # Automations hold Apprise URLs and webhook secrets, so reading them is kept from viewers.
    "automations:read": ("operator", "admin"),
    "automations:manage": ("admin",),
    # Everyone with an account manages their own API tokens (the route checks ownership).
    "tokens:own": _READERS,
}

# A run token proves one run: with these it may change that run and no other.
RUN_SCOPED = frozenset(
    {"runs:set_state", "runs:pause", "runs:validate", "task_results:write", "cursors:write"}
)


async def principal(request: Request) -> Principal:
    """The request's principal (set by IdentityMiddleware for every non-public /api request)."""
    found: Principal | None = request.scope.get(PRINCIPAL_KEY)
    if found is None:
        raise Forbidden("this endpoint needs a signed-in caller")
    return found


def require(permission: str) -> Any:
    """A route dependency: 403 unless the caller's role has `permission`."""
    roles = PERMISSIONS[permission]  # a misspelt permission fails at import, not at request

    async def check(request: Request) -> Principal:
        who = await principal(request)
        if who.role not in roles:
            raise Forbidden(
                f"permission {permission!r} denied to {who.name!r} (role {who.role!r}); "
                f"roles with it: {', '.join(roles)}. Ask an admin for a role that has it."
            )
        target = request.path_params.get("flow_run_id")
        if who.kind == "run" and permission in RUN_SCOPED and target != who.run_id:
            raise Forbidden(
                f"permission {permission!r} with a run token covers only its own run "
                f"({who.run_id}), not flow run {target!r}"
            )
        return who

    check.permission = permission  # type: ignore[attr-defined]
    return Depends(check)
