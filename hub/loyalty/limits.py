"""Rate limits on identification, so a kiosk cannot be used as a phone-number oracle.

Fixed windows per key, counted in the hub's database (table ``rate_windows``): replicas of a chain
share one counter, so a limit is the limit whichever replica a kiosk reaches. One statement both
counts and decides — ``INSERT ... ON CONFLICT DO UPDATE SET hits = hits + 1 WHERE hits < limit
RETURNING hits`` — which is atomic on SQLite (one writer) and on PostgreSQL (the conflicting row
is locked by the update), so two replicas can never both take the last hit. A refused hit is not
counted (as before). Windows are aligned to multiples of their length on the wall clock, so every
replica computes the same one; windows that ended are deleted, at most once per window length and
process. The clock is injected; tests move it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text

from hub.db import Database
from venue.clock import Clock

_HIT = text(
    "INSERT INTO rate_windows (scope, key, window_start, hits) VALUES (:scope, :key, :start, 1) "
    "ON CONFLICT (scope, key, window_start) DO UPDATE SET hits = rate_windows.hits + 1 "
    "WHERE rate_windows.hits < :limit RETURNING hits"
)
_PRUNE = text("DELETE FROM rate_windows WHERE scope = :scope AND window_start < :start")
MAX_KEY = 128


def window_start(now: datetime, window_s: int) -> int:
    """The start (epoch seconds) of the fixed window of ``window_s`` seconds holding ``now``."""
    epoch = int(now.timestamp())
    return epoch - epoch % window_s


class WindowLimiter:
    """At most ``limit`` hits per key per ``window_s`` seconds (``limit <= 0``: no limit).

    Args:
        limit: Hits allowed per key and window.
        window_s: Window length in whole seconds.
        db: The hub's database (shared by its replicas).
        scope: Which limit this is; keys of different scopes never share a counter.
        clock: Wall time (windows follow ``clock.now()``, the same on every replica).
    """

    def __init__(self, limit: int, window_s: int, *, db: Database, scope: str,
                 clock: Clock) -> None:
        if window_s < 1:
            raise ValueError("window_s must be at least one second")
        self.limit = limit
        self.window_s = int(window_s)
        self.db = db
        self.scope = scope[:32]
        self.clock = clock
        self._pruned = -1  # window start last pruned by this process (only saves work)

    def hit(self, key: str) -> bool:
        """Count one attempt for ``key``; ``False`` when it is over the limit (not counted)."""
        if self.limit <= 0:
            return True
        start = window_start(self.clock.now(), self.window_s)
        with self.db.write_connection() as conn:
            if start != self._pruned:
                self._pruned = start
                conn.execute(_PRUNE, {"scope": self.scope, "start": start})
            row = conn.execute(_HIT, {"scope": self.scope, "key": key[:MAX_KEY], "start": start,
                                      "limit": self.limit}).first()
        return row is not None
