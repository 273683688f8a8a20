"""Every table inloop keeps, in one place (SQLAlchemy Core).

Human interaction is durable rows: each input, each state change, each stored task result is a
row, so a process may die at any line and the rows still tell the truth.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

__all__ = [
    "api_tokens",
    "automation_attempts",
    "automation_deliveries",
    "automations",
    "blocks",
    "deployments",
    "events",
    "flow_run_inputs",
    "flow_run_states",
    "flow_runs",
    "flows",
    "logs",
    "metadata",
    "receive_cursors",
    "resume_links",
    "resume_offers",
    "server_secrets",
    "sessions",
    "task_run_results",
    "users",
    "utcnow",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that always comes back timezone-aware in UTC (SQLite stores it naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        # SQLite compares timestamps as text: store one canonical naive-UTC form.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


naming = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = sa.MetaData(naming_convention=naming)

UUID_LEN = 36
# Sequences and cursors clients page by: 64-bit on PostgreSQL, so they never run out and any
# cursor a client may send (up to 2**63 - 1) compares without overflowing. SQLite's INTEGER is
# already 64-bit, and an autoincrementing primary key there must be spelled INTEGER exactly.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

flows = sa.Table(
    "flows",
    metadata,
    sa.Column("id", sa.String(UUID_LEN), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("created", UTCDateTime(), nullable=False),
)

deployments = sa.Table(
    "deployments",
    metadata,
    sa.Column("id", sa.String(UUID_LEN), primary_key=True),
    sa.Column("flow_id", sa.String(UUID_LEN), sa.ForeignKey("flows.id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("entrypoint", sa.Text(), nullable=False),
    sa.Column("parameter_schema", sa.JSON(), nullable=False),
    sa.Column("created", UTCDateTime(), nullable=False),
    sa.Column("updated", UTCDateTime(), nullable=False),
    sa.Column("last_polled", UTCDateTime(), nullable=True),
    sa.UniqueConstraint("flow_id", "name"),
)

flow_runs = sa.Table(
    "flow_runs",
    metadata,
    sa.Column("id", sa.String(UUID_LEN), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("flow_id", sa.String(UUID_LEN), sa.ForeignKey("flows.id"), nullable=False),
    sa.Column("deployment_id", sa.String(UUID_LEN), sa.ForeignKey("deployments.id")),
    sa.Column("parent_flow_run_id", sa.String(UUID_LEN), nullable=True),
    sa.Column("parameters", sa.JSON(), nullable=False),
    sa.Column("state_type", sa.String(20), nullable=False),
    sa.Column("state_name", sa.String(50), nullable=False),
    sa.Column("state_message", sa.Text(), nullable=True),
    sa.Column("state_timestamp", UTCDateTime(), nullable=False),
    sa.Column("state_details", sa.JSON(), nullable=False),
    # Bumped on every transition: waiters long-poll for "state_seq > what I saw".
    sa.Column("state_seq", BigId, nullable=False),
    sa.Column("created", UTCDateTime(), nullable=False),
    sa.Column("updated", UTCDateTime(), nullable=False),
    sa.Column("start_time", UTCDateTime(), nullable=True),
    sa.Column("end_time", UTCDateTime(), nullable=True),
    # Pause details of the current (or last) pause or suspension.
    sa.Column("pause_key", sa.String(200), nullable=True),
    sa.Column("pause_deadline", UTCDateTime(), nullable=True),
    sa.Column("pause_reschedule", sa.Boolean(), nullable=False, default=False),
    sa.Column("pause_started", UTCDateTime(), nullable=True),
    # What the server does at the pause's deadline: NULL fails the run (the default);
    # "defaults" resumes it with `pause_timeout_input`, checked against the schema at pause time.
    sa.Column("pause_on_timeout", sa.String(20), nullable=True),
    sa.Column("pause_timeout_input", sa.JSON(), nullable=True),
    # Who may answer it: a JSON list of user names and `group:NAME` (NULL: no assignees), and
    # whether the run's creator may (NULL, as on rows older than the column: yes).
    sa.Column("pause_assignees", sa.JSON(), nullable=True),
    sa.Column("pause_allow_self_approval", sa.Boolean(), nullable=True),
    # The actor of the request that created the run (NULL on rows older than the column).
    sa.Column("created_by", sa.String(300), nullable=True),
    # Runner bookkeeping: who claimed the run and when it last said it was alive.
    sa.Column("runner_id", sa.String(100), nullable=True),
    sa.Column("heartbeat_at", UTCDateTime(), nullable=True),
    sa.Column("run_count", sa.Integer(), nullable=False, default=0),
    sa.Index("ix_flow_runs_state_type_created", "state_type", "created"),
    sa.Index("ix_flow_runs_flow_id_created", "flow_id", "created"),
    sa.Index("ix_flow_runs_deployment_id_state_type", "deployment_id", "state_type"),
    sa.Index("ix_flow_runs_created", "created"),
)

flow_run_states = sa.Table(
    "flow_run_states",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column(
        "flow_run_id",
        sa.String(UUID_LEN),
        sa.ForeignKey("flow_runs.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("type", sa.String(20), nullable=False),
    sa.Column("name", sa.String(50), nullable=False),
    sa.Column("message", sa.Text(), nullable=True),
    sa.Column("timestamp", UTCDateTime(), nullable=False),
    sa.Column("details", sa.JSON(), nullable=False),
    sa.Index("ix_flow_run_states_flow_run_id_id", "flow_run_id", "id"),
)

flow_run_inputs = sa.Table(
    "flow_run_inputs",
    metadata,
    # A global, monotonically increasing sequence: readers page by it (linear draining).
    sa.Column("seq", BigId, primary_key=True, autoincrement=True),
    sa.Column(
        "flow_run_id",
        sa.String(UUID_LEN),
        sa.ForeignKey("flow_runs.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("value", sa.JSON(), nullable=True),
    sa.Column("sender", sa.String(300), nullable=True),
    sa.Column("created", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("flow_run_id", "key"),
    sa.Index("ix_flow_run_inputs_flow_run_id_seq", "flow_run_id", "seq"),
)

# A resume held back while the paused flow's own validators judge the answer (a pause opted in
# with validate_before_resume). The value is kept only until the verdict: a refused answer is
# never stored, and an accepted one is stored as the pause's response by the resume itself.
resume_offers = sa.Table(
    "resume_offers",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column(
        "flow_run_id",
        sa.String(UUID_LEN),
        sa.ForeignKey("flow_runs.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("pause_key", sa.String(200), nullable=False),
    sa.Column("value", sa.JSON(), nullable=True),
    sa.Column("actor", sa.String(300), nullable=True),
    sa.Column("remote", sa.String(100), nullable=True),
    sa.Column("offered", UTCDateTime(), nullable=False),
    # NULL while pending; then "accepted", "rejected" or "expired" (the flow did not answer in
    # time and the resume went ahead without it).
    sa.Column("verdict", sa.String(20), nullable=True),
    sa.Column("errors", sa.JSON(), nullable=True),
    sa.Column("decided", UTCDateTime(), nullable=True),
    sa.Index("ix_resume_offers_flow_run_id_id", "flow_run_id", "id"),
)

task_run_results = sa.Table(
    "task_run_results",
    metadata,
    sa.Column(
        "flow_run_id",
        sa.String(UUID_LEN),
        sa.ForeignKey("flow_runs.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("task_key", sa.String(300), primary_key=True),
    sa.Column("task_name", sa.String(200), nullable=False),
    sa.Column("result", sa.JSON(), nullable=True),
    sa.Column("created", UTCDateTime(), nullable=False),
)

# Where a named `receive_input(..., cursor=...)` of a run has read up to (an input `seq`), so a
# run executed again after a suspension goes on from there.
receive_cursors = sa.Table(
    "receive_cursors",
    metadata,
    sa.Column(
        "flow_run_id",
        sa.String(UUID_LEN),
        sa.ForeignKey("flow_runs.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("after_seq", BigId, nullable=False),
    sa.Column("updated", UTCDateTime(), nullable=False),
)

logs = sa.Table(
    "logs",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column(
        "flow_run_id",
        sa.String(UUID_LEN),
        sa.ForeignKey("flow_runs.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("level", sa.Integer(), nullable=False),
    sa.Column("logger", sa.String(300), nullable=False),
    sa.Column("message", sa.Text(), nullable=False),
    sa.Column("timestamp", UTCDateTime(), nullable=False),
    sa.Index("ix_logs_flow_run_id_id", "flow_run_id", "id"),
)

blocks = sa.Table(
    "blocks",
    metadata,
    sa.Column("block_type", sa.String(100), primary_key=True),
    sa.Column("name", sa.String(300), primary_key=True),
    sa.Column("value", sa.JSON(), nullable=True),
    sa.Column("created", UTCDateTime(), nullable=False),
    sa.Column("updated", UTCDateTime(), nullable=False),
    # Kept across overwrites; what JSON.save() returns.
    sa.Column("id", sa.String(UUID_LEN), nullable=False, unique=True),
)

# Secrets the server signs with (run tokens today; resume links later). Kept in the database,
# not in a file, so every replica serving one database signs and verifies with the same key.
server_secrets = sa.Table(
    "server_secrets",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
    sa.Column("created", UTCDateTime(), nullable=False),
)

# People (DESIGN section 3). While this table is empty the server runs in open or shared-key
# mode; the first row switches it to users mode, where every API request must say who it is.
users = sa.Table(
    "users",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("email", sa.String(300), nullable=True),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("groups", sa.JSON(), nullable=False),
    # argon2id; NULL: this user signs in with tokens only, never with a password.
    sa.Column("password_hash", sa.String(200), nullable=True),
    sa.Column("disabled", sa.Boolean(), nullable=False, default=False),
    sa.Column("created", UTCDateTime(), nullable=False),
    # The OpenID Connect subject (`iss` + `sub`) this user signs in as, bound at their first SSO
    # sign-in; NULL: not (yet) an SSO user.
    sa.Column("oidc_subject", sa.String(500), nullable=True),
    sa.Index("ix_users_oidc_subject", "oidc_subject", unique=True),
)

# API tokens are 256 random bits, so a plain SHA-256 of the secret is enough to store
# (nothing to brute-force); the secret itself is shown once, at creation.
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.String(UUID_LEN), primary_key=True),
    sa.Column(
        "user_name", sa.String(100), sa.ForeignKey("users.name", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False, unique=True),
    sa.Column("expires", UTCDateTime(), nullable=True),
    sa.Column("last_used", UTCDateTime(), nullable=True),
    sa.Column("revoked", UTCDateTime(), nullable=True),
    sa.Column("created", UTCDateTime(), nullable=False),
    sa.Index("ix_api_tokens_user_name", "user_name"),
)

# UI sign-ins: the cookie holds a random id, the row its SHA-256 (a stolen database backup
# cannot be replayed as a cookie).
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("hash", sa.String(64), primary_key=True),
    sa.Column(
        "user_name", sa.String(100), sa.ForeignKey("users.name", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("expires", UTCDateTime(), nullable=False),
    sa.Column("created", UTCDateTime(), nullable=False),
    sa.Index("ix_sessions_user_name", "user_name"),
)

# The audit trail and the feed automations read: one row per state change, input, resume,
# cancellation, sign-in or token change. Append-only; rows go only when older than
# INLOOP_EVENTS_KEEP_DAYS. No foreign key to the run, so the record of who did what outlives
# the run's own rows.
events = sa.Table(
    "events",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("occurred", UTCDateTime(), nullable=False),
    sa.Column("kind", sa.String(100), nullable=False),
    sa.Column("actor", sa.String(300), nullable=True),
    sa.Column("flow_run_id", sa.String(UUID_LEN), nullable=True),
    sa.Column("remote", sa.String(100), nullable=True),
    sa.Column("details", sa.JSON(), nullable=False),
    sa.Index("ix_events_flow_run_id_id", "flow_run_id", "id"),
    sa.Index("ix_events_kind_id", "kind", "id"),
    sa.Index("ix_events_actor_id", "actor", "id"),
    sa.Index("ix_events_occurred", "occurred"),
    # SQLite: never hand out an id again, even after the newest rows are pruned.
    sqlite_autoincrement=True,
)

# Automations: a trigger and actions (the validated spec, see inloop.automations), by name.
automations = sa.Table(
    "automations",
    metadata,
    sa.Column("id", sa.String(UUID_LEN), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("enabled", sa.Boolean(), nullable=False),
    sa.Column("spec", sa.JSON(), nullable=False),
    sa.Column("created", UTCDateTime(), nullable=False),
    sa.Column("updated", UTCDateTime(), nullable=False),
)

# One row per thing an automation must do for one event: one action (and one notify target),
# at one stage (now, the k-th reminder, the escalation). Written in the transaction of the event
# that caused it; the dispatcher claims due rows and records each try in automation_attempts.
# The id is stable across retries, so receivers can deduplicate.
# automation_deliveries.status: pending until the dispatcher records how it ended.
DELIVERY_PENDING, DELIVERY_DELIVERED, DELIVERY_FAILED, DELIVERY_SKIPPED = (
    "pending", "delivered", "failed", "skipped",
)
automation_deliveries = sa.Table(
    "automation_deliveries",
    metadata,
    sa.Column("id", sa.String(UUID_LEN), primary_key=True),
    sa.Column(
        "automation_id",
        sa.String(UUID_LEN),
        sa.ForeignKey("automations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("event_id", BigId, nullable=True),
    sa.Column("event_kind", sa.String(100), nullable=False),
    sa.Column("flow_run_id", sa.String(UUID_LEN), nullable=True),
    # The state the event reported; a delayed delivery is skipped once the run has left it.
    sa.Column("state_id", BigId, nullable=True),
    sa.Column("stage", sa.Integer(), nullable=False),  # 0 first, 1..n reminders, -1 escalation
    sa.Column("action_index", sa.Integer(), nullable=False),
    sa.Column("target_index", sa.Integer(), nullable=False),
    # pending → delivered | failed (retries spent) | skipped (condition no longer holds)
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("due", UTCDateTime(), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("claimed_until", UTCDateTime(), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Column("created", UTCDateTime(), nullable=False),
    sa.Column("finished", UTCDateTime(), nullable=True),
    sa.Index("ix_automation_deliveries_status_due", "status", "due"),
    sa.Index("ix_automation_deliveries_automation_id_created", "automation_id", "created"),
    sa.Index("ix_automation_deliveries_flow_run_id", "flow_run_id"),
)

automation_attempts = sa.Table(
    "automation_attempts",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column(
        "delivery_id",
        sa.String(UUID_LEN),
        sa.ForeignKey("automation_deliveries.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("started", UTCDateTime(), nullable=False),
    sa.Column("duration_ms", sa.Integer(), nullable=False),
    sa.Column("ok", sa.Boolean(), nullable=False),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Index("ix_automation_attempts_delivery_id", "delivery_id"),
)

# Signed resume links (DESIGN section 3): the token a recipient holds is this row's id signed
# with the server's key; the row holds what the token cannot: which pause it answers, until
# when, and whether (and when, and from where) it was used. Single-use: `used_at` is set in the
# transaction that resumes the run.
resume_links = sa.Table(
    "resume_links",
    metadata,
    sa.Column("id", sa.String(UUID_LEN), primary_key=True),
    sa.Column(
        "flow_run_id",
        sa.String(UUID_LEN),
        sa.ForeignKey("flow_runs.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("pause_key", sa.String(200), nullable=False),
    sa.Column("recipient", sa.String(300), nullable=False),
    sa.Column("created_by", sa.String(300), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("used_at", UTCDateTime(), nullable=True),
    sa.Column("used_from", sa.String(100), nullable=True),
    sa.Index("ix_resume_links_flow_run_id", "flow_run_id"),
)
