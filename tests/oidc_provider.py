"""A real OpenID Connect provider for tests: the `oidc-provider-mock` package as a subprocess.

Its authorize page is a form: POST `sub` to the authorization URL and it redirects back with a
code. The claims it puts in the ID token for a subject are set beforehand with
`PUT /users/<sub>` (JSON object); "preferred_username" and "email" need the profile and email
scopes, other claims (groups) are always included.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.servers import free_port

START_TIMEOUT = 20.0


@dataclass
class OidcProvider:
    url: str
    log: Path

    def set_claims(self, sub: str, **claims: Any) -> None:
        answer = httpx.put(f"{self.url}/users/{quote(sub, safe='')}", json=claims)
        assert answer.status_code == 204, answer.text

    def settings(self, **extra: str) -> dict[str, str]:
        """The INLOOP_OIDC_* settings for an inloop server signing in against this provider."""
        return {
            "INLOOP_OIDC_ISSUER": self.url,
            "INLOOP_OIDC_CLIENT_ID": "inloop-test",
            "INLOOP_OIDC_CLIENT_SECRET": "inloop-test-secret",
            **extra,
        }


@contextlib.contextmanager
def running_provider(*options: str) -> Iterator[OidcProvider]:
    """The provider on a free port; `options` go to its command line (e.g. --token-max-age)."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="inloop-oidc-") as home:
        log = Path(home) / "provider.log"
        with open(log, "wb") as output:
            process = subprocess.Popen(
                # --require-nonce: the provider refuses an authorization request without one.
                [sys.executable, "-m", "oidc_provider_mock", "--port", str(port),
                 "--require-nonce", *options],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                start_new_session=True,
            )
        provider = OidcProvider(f"http://127.0.0.1:{port}", log)
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    discovery = f"{provider.url}/.well-known/openid-configuration"
                    if httpx.get(discovery, timeout=1).status_code == 200:
                        break
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"oidc-provider-mock did not start:\n{log.read_text()}")
                time.sleep(0.05)
            yield provider
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
