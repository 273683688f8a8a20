"""Every kind of event the server records, one enumeration.

A kind is `<area>.<what happened>`; its value is what the events table, the API, the CLI and
automation triggers show, so a value never changes once released. StrEnum members are strings:
they compare, hash and serialize as their values.
"""

from __future__ import annotations

import enum

__all__ = ["EventKind"]


class EventKind(enum.StrEnum):
    # A flow run's life: one per state it moves to, plus what else happens to it.
    FLOW_RUN_CREATED = "flow-run.created"
    FLOW_RUN_SCHEDULED = "flow-run.scheduled"
    FLOW_RUN_PENDING = "flow-run.pending"
    FLOW_RUN_RUNNING = "flow-run.running"
    FLOW_RUN_PAUSED = "flow-run.paused"
    FLOW_RUN_SUSPENDED = "flow-run.suspended"
    FLOW_RUN_RESUMED = "flow-run.resumed"
    FLOW_RUN_COMPLETED = "flow-run.completed"
    FLOW_RUN_FAILED = "flow-run.failed"
    FLOW_RUN_CRASHED = "flow-run.crashed"
    FLOW_RUN_CANCELLED = "flow-run.cancelled"
    FLOW_RUN_INPUT_RECEIVED = "flow-run.input-received"
    FLOW_RUN_INPUT_REJECTED = "flow-run.input-rejected"
    FLOW_RUN_RESUME_REFUSED = "flow-run.resume-refused"
    # Signed resume links.
    LINK_CREATED = "link.created"
    LINK_USED = "link.used"
    # Automations, as people change them.
    AUTOMATION_CREATED = "automation.created"
    AUTOMATION_UPDATED = "automation.updated"
    AUTOMATION_ENABLED = "automation.enabled"
    AUTOMATION_DISABLED = "automation.disabled"
    AUTOMATION_DELETED = "automation.deleted"
    # People, their tokens and their sessions.
    USER_CREATED = "user.created"
    USER_CHANGED = "user.changed"
    USER_ENABLED = "user.enabled"
    USER_DISABLED = "user.disabled"
    TOKEN_CREATED = "token.created"
    TOKEN_REVOKED = "token.revoked"
    SESSION_SIGNED_IN = "session.signed-in"
    SESSION_SIGN_IN_FAILED = "session.sign-in-failed"
    SESSION_SIGNED_OUT = "session.signed-out"

    @classmethod
    def entered(cls, state: str) -> EventKind:
        """The kind recorded when a run moves to `state` (a StateType value: "PAUSED")."""
        return cls(f"flow-run.{state.lower()}")
