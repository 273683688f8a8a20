"""People and credentials: users, their roles and API tokens, and signing in."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from inloop.bounds import Text

__all__ = [
    "GROUP_PATTERN",
    "MAX_TOKEN_SECONDS",
    "NAME_PATTERN",
    "ROLES",
    "ROLE_PATTERN",
    "CreatedUser",
    "Mode",
    "PasswordChange",
    "Session",
    "SignIn",
    "Token",
    "TokenCreate",
    "TokenWithSecret",
    "UpdatedUser",
    "User",
    "UserCreate",
    "UserUpdate",
]

# What each role may do is inloop.server.access.PERMISSIONS.
ROLES = ("admin", "operator", "responder", "viewer", "worker", "runner")
# How the server asks who a request speaks for (see inloop.server.identity).
Mode = Literal["open", "shared-key", "users"]

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$"
GROUP_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@:-]{0,99}$"
ROLE_PATTERN = "^(" + "|".join(ROLES) + ")$"
MAX_TOKEN_SECONDS = 10 * 366 * 24 * 3600


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    role: str = Field(pattern=ROLE_PATTERN)
    groups: list[str] = Field(default_factory=list, max_length=100)
    email: Text | None = Field(default=None, max_length=300, pattern=r"^[^@\s]+@[^@\s]+$")
    password: Text | None = Field(default=None, min_length=8, max_length=1000)


class User(BaseModel):
    name: str
    email: str | None
    role: str
    groups: list[str]
    has_password: bool
    disabled: bool
    created: datetime
    # Signs in with SSO: bound to an OpenID Connect subject.
    sso: bool = False


class CreatedUser(User):
    # Only for the first user: a token to go on with (the server now asks every caller for
    # one), shown once. Later users get theirs from `inloop token create --user NAME`.
    token: str | None = None
    # Only for the first user: the work in flight at the switch, by state (PAUSED, RUNNING,
    # ...). Those runs go on with their run tokens; runners need a token from now on.
    runs_in_flight: dict[str, int] | None = None


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: str | None = Field(default=None, pattern=ROLE_PATTERN)
    groups: list[str] | None = Field(default=None, max_length=100)
    email: Text | None = Field(default=None, max_length=300, pattern=r"^[^@\s]+@[^@\s]+$")
    disabled: bool | None = None
    password: Text | None = Field(default=None, min_length=8, max_length=1000)
    # Link the user to the SSO provider's account with this `sub` (the configured issuer's);
    # null unlinks. The only way a user with a password comes to sign in with SSO.
    sso_subject: Text | None = Field(default=None, min_length=1, max_length=300)
    # With a new password: also revoke the user's API tokens (their sessions end regardless).
    revoke_tokens: bool = False

    @field_validator("role", "groups", "disabled", mode="before")
    @classmethod
    def _not_cleared(cls, value: Any) -> Any:
        # Leaving a field out keeps it; only email and password may be cleared with null.
        if value is None:
            raise ValueError("may not be null: leave the field out to keep its value")
        return value


class PasswordChange(BaseModel):
    # The user's sessions ended by the change (all but the one that made it, if it is theirs).
    sessions_ended: int
    # Live API tokens revoked (revoke_tokens: true) and still working.
    tokens_revoked: int
    tokens_kept: int


class UpdatedUser(User):
    # Present when the request changed the password: what else it changed.
    password_change: PasswordChange | None = None


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Omitted: the caller's own token (a user) or an error (the API key, an open server).
    user: str | None = Field(default=None, pattern=NAME_PATTERN)
    name: Text = Field(default="token", min_length=1, max_length=100)
    # Seconds from now; omitted: the token never expires.
    expires_in: int | None = Field(default=None, ge=60, le=MAX_TOKEN_SECONDS)


class Token(BaseModel):
    id: str
    user: str
    name: str
    expires: datetime | None
    last_used: datetime | None
    revoked: datetime | None
    created: datetime


class TokenWithSecret(Token):
    # The bearer secret: shown in this answer only, stored as a hash.
    token: str


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=1, max_length=100)
    password: Text = Field(min_length=1, max_length=1000)


class Session(BaseModel):
    mode: Mode
    # Who this request speaks for; None when it carries no valid credentials.
    actor: str | None = None
    kind: str | None = None
    role: str | None = None
    groups: list[str] = Field(default_factory=list)
    # Whether "Sign in with SSO" (OpenID Connect, GET /api/session/sso) is available.
    sso: bool = False
