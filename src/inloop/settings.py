"""Settings read from `INLOOP_*` environment variables.

Settings are read when asked for, never at import, and re-read whenever an `INLOOP_*` variable
changed since the last read, so a test (or a user) that changes the environment sees it at once.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INLOOP_", extra="ignore")

    home: Path = Field(default_factory=lambda: Path.home() / ".inloop")
    api_url: str = "http://127.0.0.1:4200/api"
    ui_url: str | None = None
    database_url: str | None = None
    api_key: str | None = None
    server_host: str = "127.0.0.1"
    server_port: int = 4200
    max_request_bytes: int = 16 * 1024 * 1024
    # Host names browsers may reach the server by, besides the address it is bound to
    # (comma-separated; ".example.com" also allows its subdomains; "*" allows any).
    allowed_hosts: str = ""
    # Origins (scheme://host[:port], comma-separated; "*" for any) whose pages may call the API
    # cross-origin. Unset: the API answers no cross-origin request and refuses foreign writes.
    cors_origins: str = ""
    # Given by a runner to the process executing a flow run: that run's token.
    run_token: str | None = None
    # Liveness (see inloop.server.store.liveness). A process beats for its runs every
    # heartbeat_interval_seconds; a run whose process has been silent for longer than its budget
    # is marked CRASHED, with the last heartbeat, the silence and the budget in its message.
    # A runner reports its child's exit at once (exit code or signal), so the budgets matter
    # only for flows run without one, or when the runner's machine is lost with them. Silence is
    # weak evidence (an overloaded machine delays beats), so each budget is many beats long.
    heartbeat_interval_seconds: float = Field(default=5.0, gt=0)
    # A running (or pending) run: judged after this much silence.
    heartbeat_grace_seconds: float = Field(default=60.0, gt=0)
    # A paused run holds no work, so it waits much longer before silence alone judges it. A
    # resume of a paused run silent for longer is refused (409) and the run marked crashed;
    # one within it is acknowledged, and should the process be gone after all, its crash (one
    # running budget later) names the answer it never read, which is kept.
    paused_heartbeat_interval_seconds: float = Field(default=5.0, gt=0)
    paused_heartbeat_grace_seconds: float = Field(default=300.0, gt=0)
    # How long a runner's long-poll for work lasts (the server allows at most 60). The server
    # shows a deployment's runner as online while it polled within about twice this.
    runner_poll_seconds: float = Field(default=30.0, gt=0, le=60)
    # How long a resume of a pause that opted in to validate_before_resume waits for the paused
    # flow's verdict; past it the resume goes ahead unjudged (the flow validates afterwards).
    validate_timeout_seconds: float = Field(default=5.0, ge=0, le=60)
    # How long a client keeps retrying a request the server did not answer (connection refused
    # or dropped, 502/503/504) once it has reached that server before: long enough to ride out a
    # server restart. A server never reached fails fast instead.
    client_retry_seconds: float = 30.0
    logging_level: str = "INFO"
    # Sign-in throttling. After signin_account_failures failed passwords for one account (counted
    # from the events, so on every replica) or signin_address_failures from one client address
    # (counted by each server process), each further attempt waits signin_backoff_seconds,
    # doubling with every further failure up to signin_backoff_max_seconds. Failures older than
    # signin_window_seconds no longer count; an account's also stop counting once it signs in.
    signin_account_failures: int = Field(default=5, ge=1, le=1000)
    signin_address_failures: int = Field(default=20, ge=1, le=10000)
    signin_backoff_seconds: float = Field(default=30.0, gt=0)
    signin_backoff_max_seconds: float = Field(default=900.0, gt=0)
    signin_window_seconds: float = Field(default=3600.0, gt=0)
    # Password checks (argon2, a few tenths of a second of CPU each) running at once per server
    # process, off the event loop; at most password_check_queue more wait, the rest get a 429.
    password_check_concurrency: int = Field(default=1, ge=1, le=64)
    password_check_queue: int = Field(default=32, ge=0, le=10000)
    # Events older than this many days are deleted, every events_prune_seconds (and at start).
    # Unset: events are kept forever.
    events_keep_days: float | None = Field(default=None, gt=0)
    events_prune_seconds: float = Field(default=3600.0, gt=0)
    # Automations: how deliveries are sent and retried. A failed try is retried after
    # retry_seconds, doubling up to retry_max_seconds, until max_attempts; then it fails.
    automation_max_attempts: int = Field(default=8, ge=1, le=100)
    automation_retry_seconds: float = Field(default=2.0, gt=0)
    automation_retry_max_seconds: float = Field(default=600.0, gt=0)
    # One action may take this long (a slow SMTP server, a webhook that hangs).
    automation_timeout_seconds: float = Field(default=30.0, gt=0)
    # A claimed delivery is this server's for this long; if the server dies, another claim
    # retries it afterwards. Keep it above the timeout, or a slow action may be sent twice.
    automation_lease_seconds: float = Field(default=120.0, gt=0)
    automation_concurrency: int = Field(default=32, ge=1, le=1000)
    # The fallback re-check when no wake-up arrives (deliveries due later wake on time).
    automation_poll_seconds: float = Field(default=5.0, gt=0)
    # Webhooks and notifications reach public addresses only; this comma-separated list of
    # host names and CIDRs (or single addresses) opens internal targets, e.g.
    # "hooks.corp.internal,10.20.0.0/16,127.0.0.1". See server/automations/egress.py.
    automation_allow: str = ""
    # OpenID Connect sign-in for the UI (SSO): set issuer, client id and secret to turn it on.
    # The issuer is the provider's base URL (its discovery document is at
    # <issuer>/.well-known/openid-configuration). See inloop.server.oidc.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    # Space-separated; must include "openid". "profile" and "email" carry the claims a new
    # user is named by (preferred_username, else the verified email).
    oidc_scopes: str = "openid profile email"
    # The ID token claim listing a user's groups; replaces their groups at every sign-in.
    oidc_groups_claim: str = "groups"
    # The role of a person signing in for the first time (matched users keep theirs).
    oidc_default_role: str = "viewer"
    # Off (default): an SSO sign-in is bound to its provider account (issuer, sub) and becomes
    # a new user unless an admin linked it (`inloop user link-sso`). On: a first sign-in whose
    # provider-verified email is that of exactly one existing user without a password and not
    # yet linked takes that user over. Users with a password are only ever linked by an admin.
    oidc_link_by_email: bool = False
    # Where the provider sends the browser back; register this URL at the provider. Unset: this
    # server's own URL as the browser reached it + /api/session/sso/callback (set it behind a
    # proxy that changes the scheme or host).
    oidc_redirect_url: str | None = None

    @model_validator(mode="after")
    def _lease_outlasts_an_action(self) -> Settings:
        # A lease that ends while its action still runs lets another replica send it again.
        if self.automation_lease_seconds <= self.automation_timeout_seconds:
            raise ValueError(
                f"INLOOP_AUTOMATION_LEASE_SECONDS ({self.automation_lease_seconds:g}) must be "
                f"longer than INLOOP_AUTOMATION_TIMEOUT_SECONDS "
                f"({self.automation_timeout_seconds:g}), or a slow delivery may be sent twice; "
                "raise the lease or lower the timeout"
            )
        return self

    @field_validator("automation_allow")
    @classmethod
    def _allow_entries_parse(cls, value: str) -> str:
        _allow_entries(value)
        return value

    @property
    def automation_allow_entries(
        self,
    ) -> tuple[list[str], list[ipaddress.IPv4Network | ipaddress.IPv6Network]]:
        """INLOOP_AUTOMATION_ALLOW as (host names, networks)."""
        return _allow_entries(self.automation_allow)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.home / 'inloop.db'}"

    @property
    def allowed_host_list(self) -> list[str]:
        return _split_list(self.allowed_hosts)

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.rstrip("/") for origin in _split_list(self.cors_origins)]

    @property
    def resolved_ui_url(self) -> str:
        """The UI is served by the API's own process, at the root of the API's host."""
        if self.ui_url:
            return self.ui_url.rstrip("/")
        base = self.api_url.rstrip("/")
        return base[: -len("/api")] if base.endswith("/api") else base


_HOST_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_-]{1,63})*\.?$")


def _allow_entries(
    value: str,
) -> tuple[list[str], list[ipaddress.IPv4Network | ipaddress.IPv6Network]]:
    hosts: list[str] = []
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for entry in _split_list(value):
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            continue
        except ValueError:
            pass
        if not _HOST_NAME.match(entry):
            raise ValueError(
                f"INLOOP_AUTOMATION_ALLOW entry {entry!r} is neither a host name nor an "
                "address or CIDR; use e.g. 'hooks.internal,10.0.0.0/8,127.0.0.1'"
            )
        hosts.append(entry.rstrip("."))
    return hosts, networks


def _split_list(value: str) -> list[str]:
    return [item.strip().lower() for item in value.split(",") if item.strip()]


_cache: tuple[tuple[tuple[str, str], ...], Settings] | None = None


def get_settings() -> Settings:
    """The settings for the current environment (re-read whenever an INLOOP_ variable changes)."""
    global _cache
    key = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("INLOOP_")))
    cached = _cache
    if cached is not None and cached[0] == key:
        return cached[1]
    settings = Settings()
    _cache = (key, settings)
    return settings
