"""Who may do what: roles, the permission table, what a run token may touch, principals, and
who may answer a pause. Pure rules, with no web framework in them, so stores can use them too.

The FastAPI side (`require(permission)` per route, the request's principal, the facts a run
token's checks need from the database) is `inloop.server.permissions`; how a request becomes a
principal is `inloop.server.identity`.

## Roles and permissions

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

## Who may answer a pause

Every resume goes through `inloop.server.answering`, and under the run's row lock through
`store.pauses.resume_run`, which calls `check_may_answer`; the inbox asks `refusal` which pauses
to show. An input sent straight to a pause's `-response` key is no answer at all: `store/inputs`
refuses it, so the answer path is the only way in. A signed resume link is judged too, with
`Answerer(actor="link:<recipient>", user=<recipient>, groups=..., role=..., made_by=<the link's
maker>)`.

The rules, in order:

1. The answerer's role must be one that may resume (`runs:resume`).
2. `allow_self_approval=False`: the run's `created_by` may not answer, in every mode and
   whatever the role (admins included), compared with both the actor and the user name.
3. Users mode only (open and shared-key servers have no people to match, so assignees are
   recorded and shown there but not enforced):
   - with assignees, the answerer must be a listed user or in a listed group; admins are exempt;
   - without assignees, responders may not answer (a responder answers only what is assigned
     to them); operators and admins may.

In shared-key mode every caller is the one actor `api-key`, so a run started with the key and
paused with `allow_self_approval=False` cannot be answered with the key: add users for that.

A link carries no more standing than the person who made it: whoever holds a link can use it,
its maker first of all. So a link's answer must pass the rules twice, once for its recipient and
once for its maker (`Answerer.made_by`): the starter of a run can never get past
`allow_self_approval=False` by making a link for someone else, nor an operator past the
assignees. A link an automation made has no maker here (`made_by` None): an automation is an
admin's standing order, not the act of the run's starter, and its recipient alone is judged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from inloop.assignees import GROUP_PREFIX
from inloop.schemas import ROLES, StateType
from inloop.server.errors import Forbidden

__all__ = [
    "PERMISSIONS",
    "ROLES",
    "RUN_GRANTS",
    "AnswerRefused",
    "Answerer",
    "PauseRules",
    "Principal",
    "RunFacts",
    "Scope",
    "by_role",
    "check_block_write",
    "check_may_answer",
    "check_path_run",
    "check_run_targets",
    "refusal",
    "run_grant",
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


@dataclass(frozen=True)
class Principal:
    """Who a request speaks for, and with which role."""

    name: str
    kind: Literal["local", "api-key", "user", "run"]
    role: str
    groups: tuple[str, ...] = ()
    # The flow run whose token came with the request: the whole principal for kind "run", an
    # addition to a user's (or the API key's) rights otherwise.
    run_id: str | None = None
    via_cookie: bool = False

    @property
    def actor(self) -> str:
        """The name stored in state history and events."""
        return self.name


class RunFacts(Protocol):
    """What the run-token checks need to know from the database; the caller supplies it, so
    these rules stay free of any connection or request."""

    async def over(self, run_id: str) -> StateType | None:
        """The run's final state if it is over; None while it lives."""

    async def children_among(self, parent: str, ids: list[str]) -> set[str]:
        """Which of `ids` are child runs of `parent`."""


def by_role(who: Principal, permission: str) -> bool:
    """Whether the caller's role alone grants `permission`."""
    return who.role in PERMISSIONS[permission]


async def run_grant(facts: RunFacts, who: Principal, permission: str) -> str:
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
        ended = await facts.over(who.run_id)
        # A heartbeat writes nothing for a finished run; its answer is how the process hears
        # that its run was cancelled (see identity.hears_its_end).
        if ended is not None and permission != "runs:heartbeat":
            raise Forbidden(
                f"permission {permission!r} denied to {who.name!r} (role {who.role!r}), and "
                f"the run token sent along is of flow run {who.run_id}, which is over "
                f"({ended.display_name})"
            )
    return who.run_id


async def _all_children(facts: RunFacts, parent: str, ids: list[str]) -> bool:
    return await facts.children_among(parent, ids) == set(ids)


async def check_path_run(
    facts: RunFacts, who: Principal, permission: str, target: object
) -> None:
    """403 unless the caller's role, or its run token on the run in the path (`target`),
    grants `permission`. Grants scoped `body` are left to the route (check_run_targets,
    check_block_write)."""
    if by_role(who, permission):
        return
    run_id = await run_grant(facts, who, permission)
    scope = RUN_GRANTS.get(permission)
    if scope in ("own", "family") and target != run_id:
        if scope == "own" or not await _all_children(facts, run_id, [str(target)]):
            raise Forbidden(
                f"permission {permission!r} with a run token covers only its own run "
                f"({run_id}){' and its children' if scope == 'family' else ''}, not flow "
                f"run {target!r}"
            )


async def check_run_targets(
    facts: RunFacts, who: Principal, permission: str, run_ids: Iterable[object], what: str
) -> None:
    """For a `body` grant: the runs a body names must be the token's own run or its children.

    Nothing to check when the caller's role has the permission. `what` names the body field.
    """
    if by_role(who, permission):
        return
    run_id = await run_grant(facts, who, permission)
    wanted = {str(i) if i is not None else "" for i in run_ids}
    others = sorted(wanted - {run_id})
    if not others:
        return
    if "" in others:
        raise Forbidden(
            f"permission {permission!r} with a run token covers only its own run and its "
            f"children: set {what} to the calling run ({run_id})"
        )
    if not await _all_children(facts, run_id, others):
        raise Forbidden(
            f"permission {permission!r} with a run token covers only its own run ({run_id}) "
            f"and its children; {what} names other runs: {', '.join(others[:5])}"
        )


async def check_block_write(facts: RunFacts, who: Principal, name: str) -> None:
    """For a run token: only blocks named after its run (`<run id>-...`) may be written."""
    if by_role(who, "blocks:write"):
        return
    run_id = await run_grant(facts, who, "blocks:write")
    if not name.startswith(run_id):
        raise Forbidden(
            f"permission 'blocks:write' with a run token covers only blocks named after its "
            f"run (starting with {run_id!r}), not {name!r}; save shared blocks with a user's "
            "API token (role operator, worker or admin)"
        )


# --- who may answer a pause -------------------------------------------------------------

EXEMPT_FROM_ASSIGNEES = frozenset({"admin"})
ANSWER_UNASSIGNED = frozenset({"operator", "admin"})


@dataclass(frozen=True)
class Answerer:
    """Who is answering. `actor` is what the history records (`alice`, `api-key`,
    `local:ada`, `link:bob`); `user` is the user name to match assignees against (None when the
    answerer is no user: open mode, the shared key)."""

    actor: str
    user: str | None
    groups: tuple[str, ...]
    role: str
    # A link's answer: who made the link (None: no person, an automation), judged as well.
    made_by: Answerer | None = None

    @classmethod
    def from_principal(cls, principal: Principal) -> Answerer:
        user = principal.name if principal.kind == "user" else None
        return cls(principal.actor, user, principal.groups, principal.role)


@dataclass(frozen=True)
class PauseRules:
    """What the pause asks of its answerer, and who started the run."""

    assignees: Sequence[str]
    allow_self_approval: bool
    created_by: str | None


class AnswerRefused(Forbidden):
    """403: a rule of this pause forbids this answerer; `rule` names it, for the event."""

    def __init__(self, detail: str, rule: str) -> None:
        super().__init__(detail)
        self.rule = rule


def refusal(
    answerer: Answerer, pause: PauseRules, *, users_mode: bool
) -> tuple[str, str] | None:
    """None when `answerer` may answer `pause`; otherwise (rule, message naming the rule)."""
    found = _own_refusal(answerer, pause, users_mode=users_mode)
    if found is None and answerer.made_by is not None:
        maker = answerer.made_by
        refused = _own_refusal(maker, pause, users_mode=users_mode)
        if refused is not None:
            rule, message = refused
            return rule, (
                f"a link made by {maker.actor} carries no more standing than its maker, who "
                f"may not answer this pause: {message}. Ask someone the pause's rules accept "
                "to make the link, or answer at the run's resume page"
            )
    return found


def _own_refusal(
    answerer: Answerer, pause: PauseRules, *, users_mode: bool
) -> tuple[str, str] | None:
    may_resume = PERMISSIONS["runs:resume"]
    if answerer.role not in may_resume:
        return "role", (
            f"you are {answerer.actor} with role {answerer.role!r}, which may not answer "
            f"pauses; roles that may: {', '.join(may_resume)}"
        )
    if not pause.allow_self_approval and pause.created_by is not None and pause.created_by in (
        answerer.actor,
        answerer.user,
    ):
        return "self-approval", (
            f"self-approval not allowed: you started this run ({pause.created_by}); someone "
            "else must answer this pause"
        )
    if not users_mode:
        return None
    if pause.assignees:
        if answerer.role in EXEMPT_FROM_ASSIGNEES:
            return None
        if answerer.user is not None and answerer.user in pause.assignees:
            return None
        if any(f"{GROUP_PREFIX}{group}" in pause.assignees for group in answerer.groups):
            return None
        groups = f"in groups {', '.join(answerer.groups)}" if answerer.groups else "in no group"
        return "assignees", (
            f"assigned to {', '.join(pause.assignees)}; you are {answerer.actor} {groups}"
        )
    if answerer.role not in ANSWER_UNASSIGNED:
        return "unassigned", (
            f"this pause is assigned to nobody, and you are {answerer.actor} with role "
            f"{answerer.role!r}, which answers only pauses assigned to you or your groups; "
            "an operator or admin may answer it"
        )
    return None


def check_may_answer(answerer: Answerer, pause: PauseRules, *, users_mode: bool) -> None:
    """Raise AnswerRefused (403, naming the rule) unless `answerer` may answer `pause`."""
    found = refusal(answerer, pause, users_mode=users_mode)
    if found is not None:
        rule, message = found
        raise AnswerRefused(message, rule)
