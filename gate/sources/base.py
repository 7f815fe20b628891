"""The scanner interface: every reader yields :class:`Scan` values until it is told to stop.

Readers run in their own threads and never decide anything; they only turn bytes or frames into
text. Text lines from serial scanners, keyboard wedges and stdin go through one
:class:`LineFilter`, so binary noise, endless lines and broken UTF-8 are rejected and counted the
same way whatever the wire.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from venue.clock import Clock

if TYPE_CHECKING:
    from gate.config import ScannerSection
    from venue.decoder import Decoder


@dataclass(frozen=True, slots=True)
class Scan:
    """One code read by one reader.

    Attributes:
        text: The decoded text, stripped; never logged or sent (it may be a ticket secret).
        source: ``camera``, ``serial``, ``wedge`` or ``stdin`` (the ``gate.scan`` event's field).
        at: Wall time of the read (the redemption's scan time).
        mono: Monotonic time of the read, for latency.
        direction: The reader's direction when it overrides the gate's.
    """

    text: str
    source: str
    at: datetime
    mono: float
    direction: str | None = None


class Source(Protocol):
    """A code reader."""

    name: str
    stats: Counter[str]

    def scans(self, stop: threading.Event) -> Iterator[Scan]:
        """Yield scans until ``stop`` is set or the input ends."""
        ...

    def close(self) -> None:
        """Release the device (ungrab a keyboard, close a port or a camera)."""
        ...


class LineFilter:
    """Accept a line of scanner bytes as text, or count why not.

    Counters (in ``stats``): ``lines`` accepted, ``too_long``, ``not_utf8``, ``binary`` (control
    characters), ``empty``.
    """

    def __init__(self, stats: Counter[str], max_line: int = 512) -> None:
        self.stats = stats
        self.max_line = max_line

    def accept(self, raw: bytes) -> str | None:
        if len(raw) > self.max_line:
            self.stats["too_long"] += 1
            return None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            self.stats["not_utf8"] += 1
            return None
        text = text.strip()
        if not text:
            self.stats["empty"] += 1
            return None
        if not text.isprintable():
            self.stats["binary"] += 1
            return None
        self.stats["lines"] += 1
        return text


def open_source(
    section: ScannerSection,
    *,
    clock: Clock,
    decoder: Decoder | None = None,
    stdin: Any = None,
) -> Source:
    """Build the reader a ``[scanner]`` section names (hardware libraries imported lazily)."""
    kind = section.kind
    if kind == "stdin":
        from gate.sources.stdin import StdinSource

        return StdinSource(
            stdin, max_line=section.max_line, clock=clock, direction=section.direction
        )
    if kind == "serial":
        from gate.sources.serial import SerialSource

        assert section.port is not None
        return SerialSource(
            section.port,
            baudrate=section.baudrate,
            line_ending=section.line_ending,
            idle_ms=section.idle_ms,
            max_line=section.max_line,
            reconnect_s=section.reconnect_s,
            clock=clock,
            direction=section.direction,
        )
    if kind == "wedge":
        from gate.sources.wedge import WedgeSource

        assert section.path is not None
        return WedgeSource(
            section.path,
            grab=section.grab,
            keymap=section.keymap,
            enter=section.enter,
            idle_ms=section.idle_ms,
            max_line=section.max_line,
            clock=clock,
            direction=section.direction,
            reconnect_s=section.reconnect_s,
        )
    from gate.sources.camera import CvCameraSource, FolderSource, PiCameraSource
    from venue.decoder import Decoder as _Decoder

    dec = decoder or _Decoder()
    if kind == "folder":
        assert section.path is not None
        return FolderSource(
            section.path, dec, loop=section.loop, clock=clock, direction=section.direction
        )
    if kind == "camera":
        return PiCameraSource(
            dec,
            size=(section.width, section.height),
            fps=section.fps,
            clock=clock,
            direction=section.direction,
        )
    return CvCameraSource(
        dec,
        index=section.camera,
        size=(section.width, section.height),
        fps=section.fps,
        clock=clock,
        direction=section.direction,
    )
