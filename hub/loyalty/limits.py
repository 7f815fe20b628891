"""Rate limits on identification, so a kiosk cannot be used as a phone-number oracle.

Fixed windows per key in memory (one hub process serves a venue; a chain's replicas each limit
their own share, which still bounds an attacker). The clock is injected; tests move it.
"""

from __future__ import annotations

import threading

from venue.clock import Clock

MAX_KEYS = 100_000


class WindowLimiter:
    """At most ``limit`` hits per key per ``window_s`` seconds (``limit <= 0``: no limit)."""

    def __init__(self, limit: int, window_s: float, *, clock: Clock) -> None:
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self._hits: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> bool:
        """Count one attempt for ``key``; ``False`` when it is over the limit."""
        if self.limit <= 0:
            return True
        now = self.clock.monotonic()
        with self._lock:
            start, n = self._hits.get(key, (now, 0))
            if now - start >= self.window_s:
                start, n = now, 0
            if n >= self.limit:
                return False
            if len(self._hits) >= MAX_KEYS:
                self._prune(now)
            self._hits[key] = (start, n + 1)
            return True

    def _prune(self, now: float) -> None:
        for k in [k for k, (s, _) in self._hits.items() if now - s >= self.window_s]:
            del self._hits[k]
        if len(self._hits) >= MAX_KEYS:  # all fresh: forget the oldest half rather than grow
            for k in sorted(self._hits, key=lambda k: self._hits[k][0])[: MAX_KEYS // 2]:
                del self._hits[k]
