"""Which role may do what: one table, and `require(permission)` for each route to name its need.

Three kinds of credential act for machines, each with no more standing than it needs:

- `worker` (a user role): flow processes started by hand, with every run's bookkeeping.
- `runner` (a user role): a runner serving deployments: it registers them, claims their runs,
  heartbeats them and reads; what it does to one run it claimed (mark it crashed), it does with
  that run's token, which came with the claim.
- a run token: one flow run's process, with the grants in RUN_GRANTS, each limited to runs that
  run may touch (itself, its children, or any run for reads and for inputs it sends as itself).
  It ends with its run (see `inloop.server.run_tokens.RunLiveness`).

A user's request that also carries a run token (a script started with INLOOP_API_KEY) may do
what the user's role allows, and what the run's grants allow on that run.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from fastapi import Depends, Request

from inloop.server.errors import Forbidden
from inloop.server.identity import PRINCIPAL_KEY, Identity, Principal
from inloop.server.store import runs

__all__ = [
    "PERMISSIONS",
    "RUN_GRANTS",
    "check_block_write",
    "check_run_targets",
    "principal",
    "require",
]

_READERS = ("viewer", "responder", "operator", "worker", "runner", "admin")

PERMISSIONS: dict[str, tuple[str, ...]] = {
    "runs:read": _READERS,
    "runs:create": ("operator", "worker", "admin"),
    "runs:set_state": ("worker", "admin"),
    "runs:pause": ("worker", "admin"),
    "runs:heartbeat": ("worker", "runner", "admin"),
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
    "deployments:register": ("worker", "runner", "admin"),
    "deployments:run": ("operator", "admin"),
    # Claim a deployment's scheduled run, and give back one claimed but never started.
    "runners:claim": ("worker", "runner", "admin"),
    "users:manage": ("admin",),
    # Automations hold Apprise URLs and webhook secrets, so reading them is kept from viewers.
    "automations:read": ("operator", "admin"),
    "automations:manage": ("admin",),
    # Everyone with an account manages their own API tokens (the route checks ownership).
    "tokens:own": _READERS,
}

Scope = Literal["any", "own", "family", "body"]

# What a run token grants, and on which runs:
#   any     every run (reads; inputs it sends, stamped with itself as the sender)
#   own     only the run in the path
#   family  the run in the path, or one of its children (runs it created)
#   body    the route checks the run ids (or block name) in its body with check_run_targets
#           or check_block_write: its own run and children; a block named after its run
# Nothing else: no claiming, no deployments, no cancelling or resuming, no users.
RUN_GRANTS: dict[str, Scope] = {
    "runs:read": "any",
    "inputs:send": "any",
    # Flows load their configuration (the seed's JSON blocks, for one) from blocks.
    "blocks:read": "any",
    "runs:set_state": "family",
    "runs:pause": "own",
    "runs:validate": "own",
    "task_results:write": "own",
    "cursors:write": "own",
    "runs:heartbeat": "body",
    "logs:write": "body",
    # Subflows and run_deployment(): only as children of the calling run.
    "runs:create": "body",
    "deployments:run": "body",
    # Only blocks named after the run ("<run id>-..."), like the seed's seen-ids blocks.
    "blocks:write": "body",
}


async def principal(request: Request) -> Principal:
    """The request's principal (set by IdentityMiddleware for every non-public /api request)."""
    found: Principal | None = request.scope.get(PRINCIPAL_KEY)
    if found is None:
        raise Forbidden("this endpoint needs a signed-in caller")
    return found


def _identity(request: Request) -> Identity:
    identity: Identity = request.app.state.identity
    return identity


def _by_role(who: Principal, permission: str) -> bool:
    return who.role in PERMISSIONS[permission]


async def _run_grant(request: Request, who: Principal, permission: str) -> str:
    """The run whose token grants `permission` to this caller; 403 when none does."""
    roles = PERMISSIONS[permission]
    if who.run_id is None or permission not in RUN_GRANTS:
        whom = f"{who.name!r} (role {who.role!r})"
        if who.kind == "run":
            whom = f"a run token ({who.name})"
        hint = (
            "A run token acts only on its own run; give this process a user's API token "
            "(INLOOP_API_KEY) with a role that has it."
            if who.kind == "run"
            else "Ask an admin for a role that has it."
        )
        raise Forbidden(
            f"permission {permission!r} denied to {whom}; roles with it: "
            f"{', '.join(roles)}. {hint}"
        )
    if who.kind != "run":
        # A user's request carrying a run token: the run's grants hold only while it lives.
        ended = await _identity(request).liveness.over(who.run_id)
        # A heartbeat writes nothing for a finished run; its answer is how the process hears
        # that its run was cancelled (see identity.hears_its_end).
        if ended is not None and permission != "runs:heartbeat":
            raise Forbidden(
                f"permission {permission!r} denied to {who.name!r} (role {who.role!r}), and "
                f"the run token sent along is of flow run {who.run_id}, which is over "
                f"({ended.display_name})"
            )
    return who.run_id


def require(permission: str) -> Any:
    """A route dependency: 403 unless the caller's role, or its run token, grants `permission`.

    Run-token grants scoped `own` or `family` are checked here against the path's run; `body`
    grants are left to the route (check_run_targets, check_block_write).
    """
    PERMISSIONS[permission]  # a misspelt permission fails at import, not at request
    scope = RUN_GRANTS.get(permission)

    async def check(request: Request) -> Principal:
        who = await principal(request)
        if _by_role(who, permission):
            return who
        run_id = await _run_grant(request, who, permission)
        target = request.path_params.get("flow_run_id")
        if scope in ("own", "family") and target != run_id:
            if scope == "own" or not await _children(request, run_id, [str(target)]):
                raise Forbidden(
                    f"permission {permission!r} with a run token covers only its own run "
                    f"({run_id}){' and its children' if scope == 'family' else ''}, not flow "
                    f"run {target!r}"
                )
        return who

    check.permission = permission  # type: ignore[attr-defined]
    return Depends(check)


async def _children(request: Request, parent: str, ids: list[str]) -> bool:
    """Whether every one of `ids` is a child run of `parent` (one query)."""
    async with _identity(request).db.read() as conn:
        found = await runs.children_among(conn, parent, ids)
    return found == set(ids)


async def check_run_targets(
    request: Request, who: Principal, permission: str, run_ids: Iterable[object], what: str
) -> None:
    """For a `body` grant: the runs a body names must be the token's own run or its children.

    Nothing to check when the caller's role has the permission. `what` names the body field.
    """
    if _by_role(who, permission):
        return
    run_id = await _run_grant(request, who, permission)
    wanted = {str(i) if i is not None else "" for i in run_ids}
    others = sorted(wanted - {run_id})
    if not others:
        return
    if "" in others:
        raise Forbidden(
            f"permission {permission!r} with a run token covers only its own run and its "
            f"children: set {what} to the calling run ({run_id})"
        )
    if not await _children(request, run_id, others):
        raise Forbidden(
            f"permission {permission!r} with a run token covers only its own run ({run_id}) "
            f"and its children; {what} names other runs: {', '.join(others[:5])}"
        )


async def check_block_write(request: Request, who: Principal, name: str) -> None:
    """For a run token: only blocks named after its run (`<run id>-...`) may be written."""
    if _by_role(who, "blocks:write"):
        return
    run_id = await _run_grant(request, who, "blocks:write")
    if not name.startswith(run_id):
        raise Forbidden(
            f"permission 'blocks:write' with a run token covers only blocks named after its "
            f"run (starting with {run_id!r}), not {name!r}; save shared blocks with a user's "
            "API token (role operator, worker or admin)"
        )
