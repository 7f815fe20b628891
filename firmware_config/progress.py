"""Progress of a long write: bytes written, rate and time left.

The compressed input is the only size known in advance for ``.xz`` images, so the fraction done
(and the ETA) comes from compressed bytes read, while the figure shown is bytes written. rich
draws it when installed and the output is a terminal; otherwise a plain line is rewritten at most
twice a second, so a log file does not fill up.
"""

from __future__ import annotations

import sys
from typing import Any, Protocol, TextIO

from venue.clock import Clock, SystemClock


class Progress(Protocol):
    """What the writer reports to."""

    def start(self, total: int, label: str) -> None: ...

    def update(self, written: int, consumed: int) -> None: ...

    def finish(self) -> None: ...


def human(n: float) -> str:
    """Bytes as ``12.3 MiB``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


class PlainProgress:
    """One line on a stream: ``1.2 GiB written, 35.1 MiB/s, ETA 0:01:23 (42%)``."""

    def __init__(self, stream: TextIO | None = None, *, clock: Clock | None = None,
                 every_s: float = 0.5) -> None:
        self.stream = stream or sys.stderr
        self.clock = clock or SystemClock()
        self.every_s = every_s
        self.total = 0
        self.label = ""
        self._t0 = 0.0
        self._last = -1e9
        self.lines: list[str] = []

    def start(self, total: int, label: str) -> None:
        self.total, self.label = total, label
        self._t0 = self.clock.monotonic()

    def render(self, written: int, consumed: int) -> str:
        elapsed = max(self.clock.monotonic() - self._t0, 1e-6)
        rate = written / elapsed
        frac = min(consumed / self.total, 1.0) if self.total else 0.0
        eta = "?"
        if frac > 0:
            left = int(elapsed * (1 - frac) / frac)
            eta = f"{left // 3600}:{left // 60 % 60:02d}:{left % 60:02d}"
        return f"{self.label}: {human(written)} written, {human(rate)}/s, ETA {eta} ({frac:.0%})"

    def update(self, written: int, consumed: int) -> None:
        now = self.clock.monotonic()
        if now - self._last < self.every_s:
            return
        self._last = now
        line = self.render(written, consumed)
        self.lines.append(line)
        self.stream.write("\r" + line)
        self.stream.flush()

    def finish(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


class RichProgress:
    """The same figures drawn by rich."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.progress import Progress as RP

        self._p = RP(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[written]} written"),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            transient=False,
        )
        self._task: Any = None

    def start(self, total: int, label: str) -> None:
        self._p.start()
        self._task = self._p.add_task(label, total=total, written="0 B")

    def update(self, written: int, consumed: int) -> None:
        self._p.update(self._task, completed=consumed, written=human(written))

    def finish(self) -> None:
        self._p.stop()


class NoProgress:
    """For ``--quiet`` and tests."""

    def start(self, total: int, label: str) -> None:
        pass

    def update(self, written: int, consumed: int) -> None:
        pass

    def finish(self) -> None:
        pass


def make_progress(stream: TextIO | None = None) -> Progress:
    """rich on a terminal when installed, else plain lines."""
    stream = stream or sys.stderr
    if stream.isatty():
        try:
            return RichProgress()
        except ImportError:
            pass
    return PlainProgress(stream)
