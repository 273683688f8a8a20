"""Run tokens: proof that a request comes from the process executing a given flow run.

The server gives a run its token when the run is created (POST /api/flow_runs) and each time a
runner claims it (so a suspended run executed again gets one too). The run's process sends it
back in the `X-Inloop-Run-Token` header; the server then knows which run is speaking and stamps
`sender = inloop.flow-run.<id>` on the inputs it sends, whatever the body claims, so
`respond()` always answers the run that really sent the input.

A token is the run id signed (HMAC-SHA256, via itsdangerous) with the server's signing key, which
lives in the database: every replica verifies what any other one minted, and a token survives a
restart. The payload is a JSON object so later kinds of token (users, resume links) can carry
more fields under their own salt.
"""

from __future__ import annotations

from uuid import UUID

from itsdangerous import BadSignature, URLSafeSerializer

from inloop.server.errors import Forbidden, Unauthorized

__all__ = ["RUN_SENDER_PREFIX", "RUN_TOKEN_HEADER", "RunTokens", "stamp_sender"]

RUN_TOKEN_HEADER = "X-Inloop-Run-Token"
# The sender a flow run's inputs carry; `RunInput.respond()` answers senders with this prefix
# (the client's `inloop.input.run_input.SENDER_PREFIX`, which a test keeps equal to this).
RUN_SENDER_PREFIX = "inloop.flow-run."
SALT = "inloop.run-token"


class RunTokens:
    """Mint and verify run tokens with one signing key."""

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeSerializer(secret, salt=SALT)

    def mint(self, run_id: UUID | str) -> str:
        return self._serializer.dumps({"run": str(run_id)})

    def verify(self, token: str) -> str:
        """The run id a token was minted for; 401 naming the header when it is not genuine."""
        try:
            payload = self._serializer.loads(token)
        except BadSignature:
            payload = None
        if not isinstance(payload, dict) or not isinstance(payload.get("run"), str):
            raise Unauthorized(
                f"invalid run token in the {RUN_TOKEN_HEADER} header: this server did not sign "
                "it (or its database, which holds the signing key, was replaced). Send the "
                "token the server gave the run, or leave the header out."
            )
        run_id: str = payload["run"]
        return run_id


def stamp_sender(claimed: str | None, calling_run: str | None) -> str | None:
    """The sender to store for an input: the calling run when a token proved one.

    Without a run token, a sender that claims to be a flow run is refused (403): only that
    run's own process may send as it. Any other sender is a free-form label (a person's name,
    a script's) that `respond()` never answers to, so it is kept as given.
    """
    if calling_run is not None:
        return f"{RUN_SENDER_PREFIX}{calling_run}"
    if claimed is not None and claimed.strip().lower().startswith(RUN_SENDER_PREFIX):
        raise Forbidden(
            f"sender {claimed!r} claims to be a flow run, but the request carries no run "
            f"token: only a flow run's own process may send as it (it sends its token in the "
            f"{RUN_TOKEN_HEADER} header, and the server sets the sender from that). Leave "
            "`sender` out, or use a sender that does not start with "
            f"{RUN_SENDER_PREFIX!r}."
        )
    return claimed
