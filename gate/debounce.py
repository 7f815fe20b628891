"""De-bouncing: a scanner that keeps reading a ticket held in view must not trigger twice.

Repeated reads of the same text within the window are one presentation; a read after the window is
a new scan and gets a real answer (``already_used`` with the first use's time). The window slides
while the code stays in view, so a ticket held under a camera for a minute is still one scan.
Time is the injected clock's monotonic face, never the wall clock, which may jump.
"""

from __future__ import annotations

from venue.clock import SYSTEM_CLOCK, Clock


class Debouncer:
    """Remembers recently read codes by text for ``window_s`` seconds."""

    def __init__(
        self, window_s: float, *, clock: Clock | None = None, max_items: int = 1024
    ) -> None:
        self.window_s = window_s
        self.clock = clock or SYSTEM_CLOCK
        self.max_items = max_items
        self._seen: dict[str, float] = {}
        self.suppressed = 0

    def accept(self, text: str) -> bool:
        """Whether ``text`` is a new scan (``True``) or a repeat within the window (``False``)."""
        now = self.clock.monotonic()
        last = self._seen.get(text)
        self._seen[text] = now
        if last is not None and now - last < self.window_s:
            self.suppressed += 1
            return False
        if len(self._seen) > self.max_items:
            self._prune(now)
        return True

    def _prune(self, now: float) -> None:
        self._seen = {t: at for t, at in self._seen.items() if now - at < self.window_s}
        while len(self._seen) > self.max_items:
            self._seen.pop(next(iter(self._seen)))
