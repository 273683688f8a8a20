"""Who may answer a pause: the one place that decides, for every way an answer arrives.

Every resume goes through `store.pauses.resume_run`, which calls `check_may_answer` under the
run's row lock; the inbox asks `refusal` which pauses to show. An input sent straight to a
pause's `-response` key is no answer at all: `store/inputs` refuses it, so the answer path is
the only way in. A signed resume link calls it too, with `Answerer(actor="link:<recipient>",
user=<recipient>, groups=..., role=..., made_by=<the link's maker>)`.

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

from collections.abc import Sequence
from dataclasses import dataclass

from inloop.assignees import GROUP_PREFIX
from inloop.server.errors import Forbidden
from inloop.server.identity import Principal
from inloop.server.permissions import PERMISSIONS

__all__ = ["AnswerRefused", "Answerer", "PauseRules", "check_may_answer", "refusal"]

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
