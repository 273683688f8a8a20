"""SSO sign-ins under way, kept by the browser: a signed, short-lived cookie, no server rows.

What the callback needs to finish a sign-in (the `state`, the ID token's nonce, the PKCE
verifier and where to go afterwards) travels in one HttpOnly cookie, signed (HMAC-SHA256, via
itsdangerous, with a timestamp) with the server's signing key under a salt of its own: a run
token or a resume link is never a valid sign-in, nor the other way round. Starting a sign-in
is public, and this is why it writes nothing: a stranger starting millions of them fills no
table and blocks nobody else's sign-in.

A sign-in is single-use because the callback deletes the cookie and the provider's code works
once; the nonce and verifier are never shown to anything but this browser and this server.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer

__all__ = ["LOGIN_LIFETIME", "PendingLogin", "SsoLogins"]

SALT = "inloop.sso-login"
LOGIN_LIFETIME = timedelta(minutes=10)
MAX_COOKIE_LENGTH = 4000  # browsers keep cookies up to ~4 KiB; a real one is ~300 characters


@dataclass(frozen=True)
class PendingLogin:
    state: str
    nonce: str
    code_verifier: str
    next_path: str


class SsoLogins:
    """Seal a pending sign-in into a cookie value and open it again, with one signing key."""

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=SALT)

    def seal(self, login: PendingLogin) -> str:
        return self._serializer.dumps(
            [login.state, login.nonce, login.code_verifier, login.next_path]
        )

    def open(self, cookie: str | None) -> PendingLogin | None:
        """The sign-in a cookie holds; None when absent, not ours, tampered with or older than
        LOGIN_LIFETIME."""
        if not cookie or len(cookie) > MAX_COOKIE_LENGTH:
            return None
        try:
            fields = self._serializer.loads(
                cookie, max_age=int(LOGIN_LIFETIME.total_seconds())
            )
        except BadSignature:  # SignatureExpired is one too
            return None
        if not (
            isinstance(fields, list) and len(fields) == 4
            and all(isinstance(field, str) for field in fields)
        ):
            return None
        return PendingLogin(*fields)
