"""OpenID Connect relying party: the provider's discovery, the authorization request, the code
exchange and the ID token checks (no routes, no database: see api/sso.py and store/users.py).

The flow is the authorization code flow with PKCE (S256), a `state` bound to the browser and a
`nonce` bound to the ID token. The ID token's signature is checked against the provider's JWKS
(from discovery), then its claims with authlib's OpenID Connect rules: issuer, audience,
authorized party, expiry, issue time, nonce and access-token hash.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from inloop.server.identity import is_loopback
from inloop.settings import Settings

__all__ = ["OidcConfig", "OidcConfigError", "OidcError", "Provider", "SignInClaims"]

DISCOVERY_TTL_SECONDS = 3600.0
HTTP_TIMEOUT_SECONDS = 10.0
# Asymmetric algorithms only: "none" and HMAC (keyed with the client secret) are never accepted.
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512",
              "EdDSA"]
CLOCK_LEEWAY_SECONDS = 60


class OidcConfigError(ValueError):
    """A bad INLOOP_OIDC_* setting; the message names it. Raised at server start."""


class OidcError(Exception):
    """A sign-in that cannot go on; `status` is the HTTP status the callback page answers."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str
    scopes: str
    groups_claim: str
    default_role: str
    redirect_url: str | None
    link_by_email: bool = False

    @classmethod
    def from_settings(cls, settings: Settings, roles: tuple[str, ...]) -> OidcConfig | None:
        """The SSO configuration, None when SSO is off; OidcConfigError naming a bad setting."""
        given = {
            "INLOOP_OIDC_ISSUER": settings.oidc_issuer,
            "INLOOP_OIDC_CLIENT_ID": settings.oidc_client_id,
            "INLOOP_OIDC_CLIENT_SECRET": settings.oidc_client_secret,
        }
        if not any(given.values()):
            return None
        missing = [name for name, value in given.items() if not value]
        if missing:
            raise OidcConfigError(
                f"SSO is half configured: {', '.join(missing)} not set. Set "
                "INLOOP_OIDC_ISSUER, INLOOP_OIDC_CLIENT_ID and INLOOP_OIDC_CLIENT_SECRET "
                "together (or none of them to turn SSO off)"
            )
        issuer = (settings.oidc_issuer or "").rstrip("/")
        _check_url("INLOOP_OIDC_ISSUER", issuer)
        if settings.oidc_redirect_url:
            _check_url("INLOOP_OIDC_REDIRECT_URL", settings.oidc_redirect_url)
        scopes = settings.oidc_scopes.split()
        if "openid" not in scopes:
            raise OidcConfigError(
                f"INLOOP_OIDC_SCOPES={settings.oidc_scopes!r} lacks 'openid': without it the "
                "provider sends no ID token. Use e.g. 'openid profile email'"
            )
        if settings.oidc_default_role not in roles:
            raise OidcConfigError(
                f"INLOOP_OIDC_DEFAULT_ROLE={settings.oidc_default_role!r} is not a role; pick "
                f"one of {', '.join(roles)}"
            )
        if not settings.oidc_groups_claim.strip():
            raise OidcConfigError(
                "INLOOP_OIDC_GROUPS_CLAIM is empty: name the ID token claim that lists a "
                "user's groups (default 'groups')"
            )
        return cls(
            issuer=issuer,
            client_id=settings.oidc_client_id or "",
            client_secret=settings.oidc_client_secret or "",
            scopes=" ".join(scopes),
            groups_claim=settings.oidc_groups_claim.strip(),
            default_role=settings.oidc_default_role,
            redirect_url=settings.oidc_redirect_url,
            link_by_email=settings.oidc_link_by_email,
        )


def _check_url(name: str, value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OidcConfigError(f"{name}={value!r} is not an http(s) URL")
    # Codes and tokens travel in the clear over http: allowed only on this machine (tests, dev).
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise OidcConfigError(
            f"{name}={value!r} uses plain http to another machine; use https"
        )


@dataclass(frozen=True)
class SignInClaims:
    """What a verified ID token says about the person signing in."""

    subject: str  # "<issuer> <sub>": unique across providers
    username: str | None
    email: str | None
    email_verified: bool
    groups: list[str] | None  # None: the token has no groups claim


class Provider:
    """One identity provider: discovery and JWKS fetched when first needed, then cached."""

    def __init__(self, config: OidcConfig) -> None:
        self.config = config
        self._metadata: dict[str, Any] | None = None
        self._fetched_at = float("-inf")
        self._keys: KeySet | None = None
        self._lock = asyncio.Lock()

    async def authorization_url(
        self, redirect_uri: str, state: str, nonce: str, code_verifier: str
    ) -> str:
        metadata = await self._discovery()
        query = urlencode({
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": redirect_uri,
            "scope": self.config.scopes,
            "state": state,
            "nonce": nonce,
            "code_challenge": create_s256_code_challenge(code_verifier),
            "code_challenge_method": "S256",
        })
        endpoint = str(metadata["authorization_endpoint"])
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    async def sign_in(
        self, code: str, redirect_uri: str, nonce: str, code_verifier: str
    ) -> SignInClaims:
        """Exchange the code for tokens and verify the ID token; OidcError says what failed."""
        metadata = await self._discovery()
        token_endpoint = str(metadata["token_endpoint"])
        try:
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as http:
                answer = await http.post(
                    token_endpoint,
                    data={
                        "grant_type": "authorization_code",
                        "code": code,
                        "redirect_uri": redirect_uri,
                        "code_verifier": code_verifier,
                    },
                    auth=(self.config.client_id, self.config.client_secret),
                    headers={"accept": "application/json"},
                )
        except httpx.HTTPError as exc:
            raise OidcError(
                f"could not reach the identity provider's token endpoint {token_endpoint}: "
                f"{exc!r}", 502
            ) from exc
        body = _json(answer)
        if answer.status_code != 200 or "id_token" not in body:
            reason = body.get("error_description") or body.get("error") or answer.text[:200]
            raise OidcError(
                f"the identity provider refused the sign-in code (HTTP {answer.status_code}: "
                f"{reason}); start the sign-in again", 502
            )
        claims = await self._verify(str(body["id_token"]), nonce, body.get("access_token"))
        return self._sign_in_claims(claims)

    async def _verify(self, id_token: str, nonce: str, access_token: Any) -> dict[str, Any]:
        try:
            token = jwt.decode(id_token, await self._key_set(), algorithms=ALGORITHMS)
        except InvalidKeyIdError:
            # An unknown key id: the provider may have rotated its keys since we fetched them.
            try:
                token = jwt.decode(
                    id_token, await self._key_set(refresh=True), algorithms=ALGORITHMS
                )
            except JoseError as again:
                raise OidcError(
                    f"the ID token's signature is not valid ({again})", 401
                ) from again
        except JoseError as exc:
            raise OidcError(f"the ID token's signature is not valid ({exc})", 401) from exc
        options = {
            "iss": {"essential": True, "value": self.config.issuer},
            "aud": {"essential": True, "value": self.config.client_id},
        }
        params = {
            "nonce": nonce,
            "client_id": self.config.client_id,
            "access_token": access_token if isinstance(access_token, str) else None,
        }
        claims = CodeIDToken(token.claims, token.header, options, params)
        try:
            claims.validate(leeway=CLOCK_LEEWAY_SECONDS)
        except JoseError as exc:
            raise OidcError(f"the ID token was refused: {exc}", 401) from exc
        return dict(claims)

    def _sign_in_claims(self, claims: dict[str, Any]) -> SignInClaims:
        groups = claims.get(self.config.groups_claim)
        if isinstance(groups, str):
            groups = [groups]
        if groups is not None and not (
            isinstance(groups, list) and all(isinstance(group, str) for group in groups)
        ):
            raise OidcError(
                f"the ID token's {self.config.groups_claim!r} claim is not a list of names "
                f"({groups!r}); fix INLOOP_OIDC_GROUPS_CLAIM or the provider's claim mapping",
                400,
            )
        username = claims.get("preferred_username")
        email = claims.get("email")
        return SignInClaims(
            subject=f"{self.config.issuer} {claims['sub']}",
            username=username if isinstance(username, str) else None,
            email=email if isinstance(email, str) else None,
            # Only an explicit true: an address the provider did not vouch for is never kept,
            # used as a name, or used to match a user (anyone can type any address into some
            # providers' profiles, and inloop judges resume links' recipients by address).
            email_verified=claims.get("email_verified") is True,
            groups=groups,
        )

    async def _discovery(self) -> dict[str, Any]:
        async with self._lock:
            fresh = time.monotonic() - self._fetched_at < DISCOVERY_TTL_SECONDS
            if self._metadata is not None and fresh:
                return self._metadata
            url = f"{self.config.issuer}/.well-known/openid-configuration"
            metadata = _json(await self._get(url, "discovery document"))
            missing = [
                key for key in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
                if not isinstance(metadata.get(key), str)
            ]
            if missing:
                raise OidcError(f"the discovery document {url} lacks {', '.join(missing)}", 502)
            if str(metadata["issuer"]).rstrip("/") != self.config.issuer:
                raise OidcError(
                    f"the provider at {url} calls itself {metadata['issuer']!r}, not "
                    f"{self.config.issuer!r}: set INLOOP_OIDC_ISSUER to its issuer exactly",
                    502,
                )
            self._metadata, self._fetched_at, self._keys = metadata, time.monotonic(), None
            return metadata

    async def _key_set(self, refresh: bool = False) -> KeySet:
        metadata = await self._discovery()
        if self._keys is None or refresh:
            document = _json(await self._get(str(metadata["jwks_uri"]), "signing keys (JWKS)"))
            try:
                self._keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
            except (JoseError, ValueError, TypeError, KeyError) as exc:
                raise OidcError(f"the provider's JWKS could not be read: {exc}", 502) from exc
        return self._keys

    async def _get(self, url: str, what: str) -> httpx.Response:
        try:
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as http:
                answer = await http.get(url, headers={"accept": "application/json"})
        except httpx.HTTPError as exc:
            raise OidcError(
                f"could not reach the identity provider for its {what} at {url}: {exc!r}", 502
            ) from exc
        if answer.status_code != 200:
            raise OidcError(
                f"the identity provider answered HTTP {answer.status_code} for its {what} at "
                f"{url}", 502
            )
        return answer


def _json(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
