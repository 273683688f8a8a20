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

A token speaks for its run only while the run lives: once the run is final, the server answers
401 saying the run is over (see `RunLiveness`). What a token may do is in
`inloop.server.access.RUN_GRANTS`.
"""

from __future__ import annotations

import asyncio
import contextlib
from uuid import UUID

from itsdangerous import BadSignature, URLSafeSerializer

from inloop.schemas import FINAL_STATES, StateType
from inloop.server.database.engine import Database
from inloop.server.errors import Forbidden, Unauthorized
from inloop.server.store import runs

__all__ = [
    "RUN_OVER",
    "RUN_SENDER_PREFIX",
    "RUN_TOKEN_HEADER",
    "RunLiveness",
    "RunTokens",
    "stamp_sender",
]

RUN_TOKEN_HEADER = "X-Inloop-Run-Token"
# The sender a flow run's inputs carry; `RunInput.respond()` answers senders with this prefix
# (the client's `inloop.input.run_input.SENDER_PREFIX`, which a test keeps equal to this).
RUN_SENDER_PREFIX = "inloop.flow-run."
SALT = "inloop.run-token"
# Part of the 401 for a token whose run is over; the client raises RunOver on it
# (inloop.client.RUN_OVER, which a test keeps equal to this).
RUN_OVER = "a run's token ends with its run"
LIVENESS_CACHE_SIZE = 10_000


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


class RunLiveness:
    """Whether a token's run is over, remembered so a run token costs no query per request.

    A run token dies with its run. Final states are final for good (no transition leaves them),
    so a run seen final is remembered as over. A run seen live is trusted until its state
    changes: each remembered run listens on its `run:<id>` topic, which every state change
    notifies (on every replica, through PostgreSQL; a listener reconnect wakes them all), and
    the next request after a change reads the state again. So the check costs one query per run
    per state change, not one per request.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._over: dict[str, StateType] = {}
        self._live: dict[str, tuple[asyncio.Event, contextlib.ExitStack]] = {}

    async def over(self, run_id: str) -> StateType | None:
        """The run's final state if it is over; None while it is live (or unknown)."""
        ended = self._over.get(run_id)
        if ended is not None:
            return ended
        known = self._live.get(run_id)
        if known is not None:
            if not known[0].is_set():
                return None
            self._forget(run_id)
        # Listen before reading, so a change between the read and the listening is not lost.
        listening = contextlib.ExitStack()
        changed = listening.enter_context(self.db.hub.subscribe([f"run:{run_id}"]))
        async with self.db.read() as conn:
            state = (await runs.states_of(conn, [run_id])).get(run_id)
        if state is None or state in FINAL_STATES or run_id in self._live:
            listening.close()
            if state in FINAL_STATES:
                if len(self._over) >= LIVENESS_CACHE_SIZE:
                    self._over.clear()
                self._over[run_id] = state
                return state
            return None
        if len(self._live) >= LIVENESS_CACHE_SIZE:
            self.close()  # many runs at once: start over rather than grow
        self._live[run_id] = (changed, listening)
        return None

    def _forget(self, run_id: str) -> None:
        entry = self._live.pop(run_id, None)
        if entry is not None:
            entry[1].close()

    def close(self) -> None:
        for run_id in list(self._live):
            self._forget(run_id)
