"""How long this server has been able to hear heartbeats: silence is judged only within that.

Heartbeats cannot reach a server that is down, nor one too starved (an overloaded machine, a
paused VM) to read them. So a process's silence counts only from the later of the server's
start and the end of its last stall, and every live process gets one full budget to check in
after either. The reaper notices a stall by its own lateness; a request (a resume) in the
moment before it does sees the reaper overdue, and judges nothing either.
"""

from __future__ import annotations

import logging
import time

__all__ = ["REAPER_INTERVAL_SECONDS", "STALL_SECONDS", "Hearing"]

REAPER_INTERVAL_SECONDS = 1.0
# A reaper pass this much later than due means the server itself was not serving heartbeats.
STALL_SECONDS = 5.0
log = logging.getLogger("inloop.server")


class Hearing:
    """Since when this server has been able to hear heartbeats (monotonic clock)."""

    def __init__(self) -> None:
        self.since = self.last_pass = time.monotonic()

    def pass_done(self) -> None:
        """The reaper finished a pass: if it came late, the server was stalled until now."""
        now = time.monotonic()
        stalled = now - self.last_pass - REAPER_INTERVAL_SECONDS
        if stalled > STALL_SECONDS:
            log.warning(
                "the server was stalled for %.0f s (an overloaded machine?); no run is judged "
                "by heartbeat silence until every process has had its budget again",
                stalled,
            )
            self.since = now
        self.last_pass = now

    def heard_for(self) -> float:
        """Seconds over which silence may be judged now: 0 while the reaper is overdue."""
        now = time.monotonic()
        if now - self.last_pass > 2 * REAPER_INTERVAL_SECONDS + STALL_SECONDS:
            return 0.0
        return now - self.since
