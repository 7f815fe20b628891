"""Codes typed or piped on stdin, one a line: the simulation and demo reader."""

from __future__ import annotations

import sys
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any, BinaryIO

from gate.sources.base import LineFilter, Scan
from venue.clock import SYSTEM_CLOCK, Clock


class StdinSource:
    """Reads lines of bytes from a binary stream (default ``sys.stdin.buffer``) until EOF."""

    name = "stdin"

    def __init__(
        self,
        stream: BinaryIO | Any = None,
        *,
        max_line: int = 512,
        clock: Clock | None = None,
        direction: str | None = None,
    ) -> None:
        self.stream = stream if stream is not None else sys.stdin.buffer
        self.clock = clock or SYSTEM_CLOCK
        self.direction = direction
        self.stats: Counter[str] = Counter()
        self.filter = LineFilter(self.stats, max_line)

    def scans(self, stop: threading.Event) -> Iterator[Scan]:
        limit = self.filter.max_line + 1
        while not stop.is_set():
            raw = self.stream.readline(limit)
            if not raw:
                return
            if isinstance(raw, str):
                raw = raw.encode("utf-8", "surrogateescape")
            if not raw.endswith(b"\n") and len(raw) >= limit:
                # An endless line: drop the rest of it too, and count it once.
                while True:
                    more = self.stream.readline(limit)
                    if not more or (more.endswith(b"\n") if isinstance(more, bytes) else True):
                        break
                self.stats["too_long"] += 1
                continue
            text = self.filter.accept(raw)
            if text is not None:
                yield Scan(
                    text, self.name, self.clock.now(), self.clock.monotonic(), self.direction
                )

    def close(self) -> None:
        pass
