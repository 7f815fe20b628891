"""Injected clocks: every decision takes the time from one of these, never from ``datetime.now``.

A clock has two faces because they answer different questions: ``now()`` is wall time in UTC for
validity windows and records; ``monotonic()`` is for budgets, timeouts and de-bouncing, where a
wall clock that jumps (NTP on a Pi that booted without network) must not matter.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """What venue needs from a clock."""

    def now(self) -> datetime:
        """Wall-clock time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary start that never goes backwards."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class FakeClock:
    """A clock that moves only when a test moves it; thread-safe so daemons can share it."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start")
        self._mono = 1000.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, seconds: float) -> None:
        """Move both faces forward by ``seconds``."""
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._mono += seconds

    def set(self, when: datetime) -> None:
        """Jump wall time (as NTP might); monotonic time is untouched."""
        with self._lock:
            self._now = when


SYSTEM_CLOCK = SystemClock()


def utc_now() -> datetime:
    """Wall-clock time in UTC, for code at the edges that has no injected clock."""
    return datetime.now(UTC)
