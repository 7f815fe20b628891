"""Codes typed or piped on stdin, one a line: the simulation and demo reader."""

from __future__ import annotations

import io
import os
import select
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any, BinaryIO

from gate.sources.base import LineFilter, Scan
from gate.sources.serial import LineSplitter
from venue.clock import SYSTEM_CLOCK, Clock


class StdinSource:
    """Reads lines of bytes from a binary stream (default stdin) until EOF.

    A real file descriptor is read with ``select`` so the reader notices a stop request instead of
    blocking in ``read`` at shutdown; any other binary stream (tests) is read line by line.
    """

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

    def _fd(self) -> int | None:
        try:
            return int(self.stream.fileno())
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            return None

    def _chunks(self, stop: threading.Event) -> Iterator[bytes]:
        fd = self._fd()
        if fd is None:
            while not stop.is_set():
                data = self.stream.read(4096)
                if not data:
                    return
                yield data
            return
        while not stop.is_set():
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                continue
            data = os.read(fd, 65536)
            if not data:
                return
            yield data

    def scans(self, stop: threading.Event) -> Iterator[Scan]:
        def too_long() -> None:
            self.stats["too_long"] += 1

        splitter = LineSplitter("lf", self.filter.max_line, too_long)
        for data in self._chunks(stop):
            for raw in splitter.feed(data):
                text = self.filter.accept(raw)
                if text is not None:
                    yield Scan(
                        text, self.name, self.clock.now(), self.clock.monotonic(), self.direction
                    )
        tail = splitter.flush()
        if tail is not None:
            text = self.filter.accept(tail)
            if text is not None:
                now = self.clock.now()
                yield Scan(text, self.name, now, self.clock.monotonic(), self.direction)

    def close(self) -> None:
        pass
