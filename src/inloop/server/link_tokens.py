"""Resume link tokens: a link's id, signed, so only this server's links are ever looked up.

Signed (HMAC-SHA256, via itsdangerous) with the server's signing key from the database, like
run tokens, but under a salt of their own: a run token is never a valid link and the other way
round. The token carries nothing else; expiry, the pause it answers and whether it was used
live in the link's row, so a link can be judged (and refused) with the row's own times.
"""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer

__all__ = ["LinkTokens"]

SALT = "inloop.resume-link"
MAX_TOKEN_LENGTH = 200  # a real token is about 80 characters


class LinkTokens:
    """Mint and read resume link tokens with one signing key."""

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeSerializer(secret, salt=SALT)

    def mint(self, link_id: str) -> str:
        return self._serializer.dumps({"link": link_id})

    def read(self, token: str) -> str | None:
        """The link id a token was minted for; None when this server did not sign it."""
        if len(token) > MAX_TOKEN_LENGTH:
            return None
        try:
            payload = self._serializer.loads(token)
        except BadSignature:
            return None
        link = payload.get("link") if isinstance(payload, dict) else None
        return link if isinstance(link, str) else None
