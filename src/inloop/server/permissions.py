"""The FastAPI side of who-may-do-what: `require(permission)` for each route to name its need,
the request's principal, and the database facts a run token's checks ask for.

The rules themselves (roles, the permission table, what a run token may touch) are in
`inloop.server.access`, free of any web framework.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request

from inloop.schemas import StateType
from inloop.server.access import PERMISSIONS, Principal, check_path_run
from inloop.server.errors import Forbidden
from inloop.server.identity import PRINCIPAL_KEY, Identity
from inloop.server.store import runs

__all__ = ["principal", "require", "run_facts"]


async def principal(request: Request) -> Principal:
    """The request's principal (set by IdentityMiddleware for every non-public /api request)."""
    found: Principal | None = request.scope.get(PRINCIPAL_KEY)
    if found is None:
        raise Forbidden("this endpoint needs a signed-in caller")
    return found


class _RequestRunFacts:
    """`access.RunFacts` for one request: the app's run liveness and its database."""

    def __init__(self, identity: Identity) -> None:
        self._identity = identity

    async def over(self, run_id: str) -> StateType | None:
        return await self._identity.liveness.over(run_id)

    async def children_among(self, parent: str, ids: list[str]) -> set[str]:
        async with self._identity.db.read() as conn:
            return await runs.children_among(conn, parent, ids)


def run_facts(request: Request) -> _RequestRunFacts:
    """What `access.check_run_targets` and `access.check_block_write` need, for this app."""
    identity: Identity = request.app.state.identity
    return _RequestRunFacts(identity)


def require(permission: str) -> Any:
    """A route dependency: 403 unless the caller's role, or its run token, grants `permission`.

    Run-token grants scoped `own` or `family` are checked here against the path's run; `body`
    grants are left to the route (access.check_run_targets, access.check_block_write).
    """
    PERMISSIONS[permission]  # a misspelt permission fails at import, not at request

    async def check(request: Request) -> Principal:
        who = await principal(request)
        await check_path_run(
            run_facts(request), who, permission, request.path_params.get("flow_run_id")
        )
        return who

    check.permission = permission  # type: ignore[attr-defined]
    return Depends(check)
