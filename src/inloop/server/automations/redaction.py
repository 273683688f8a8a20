"""What a reader who may not change automations sees of their credentials: nothing.

Apprise URLs carry tokens and passwords in any part (`slack://TokenA/TokenB/TokenC`,
`mailto://user:pass@host`), webhook URLs often carry theirs in the path or query (a Slack
incoming webhook), and a webhook's `secret` signs every body. Operators read automations to
see what fires and where deliveries go; only admins, who can change them anyway, read them whole.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

__all__ = ["REDACTED", "redact_spec", "redact_url"]

REDACTED = "[redacted]"

_WEB = ("http", "https")


def redact_url(url: str) -> str:
    """The URL's scheme, and for http(s) its host and port, with everything else hidden."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # an unparsable port or bracket: show nothing of it
        return REDACTED
    if not parts.scheme:
        return REDACTED
    scheme = parts.scheme.lower()
    if scheme not in _WEB:
        # Apprise's "host" is often itself a token (slack://TokenA/...): keep only the service.
        return f"{scheme}://{REDACTED}"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    where = f"{host}:{port}" if port is not None else host
    hidden = parts.path not in ("", "/") or parts.query or parts.fragment or parts.username
    return f"{scheme}://{where}/{REDACTED}" if hidden else f"{scheme}://{where}/"


def _redact_action(action: dict[str, Any]) -> dict[str, Any]:
    shown = dict(action)
    if action.get("type") == "notify":
        shown["urls"] = [
            {**target, "url": redact_url(target["url"])}
            if isinstance(target, dict)
            else redact_url(target)
            for target in action.get("urls", [])
        ]
    elif action.get("type") == "webhook":
        shown["url"] = redact_url(action["url"])
        if action.get("secret") is not None:
            shown["secret"] = REDACTED
    return shown


def redact_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """A copy of a stored spec (inloop.automations.spec_json) with its credentials hidden."""
    shown = dict(spec)
    for part in ("actions", "escalate"):
        if part in spec:
            shown[part] = [_redact_action(action) for action in spec[part]]
    return shown
