"""Serial (USB CDC or RS-232) barcode scanners via pyserial.

Scanners end a code with CR, LF or CRLF, or with nothing at all; with ``line_ending = "none"`` a
pause of ``idle_ms`` ends a code. The port is reopened when the scanner is unplugged and plugged
back in, and whatever arrives that is not a plausible code (binary noise, a line longer than
``max_line``, broken UTF-8) is dropped and counted instead of stopping the reader.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from gate.sources.base import LineFilter, Scan
from venue.clock import SYSTEM_CLOCK, Clock

log = logging.getLogger("venue.gate.serial")

_ENDINGS = {"cr": (b"\r",), "lf": (b"\n",), "crlf": (b"\r\n",), "any": (b"\r", b"\n"), "none": ()}


class LineSplitter:
    """Cut a byte stream into lines, never holding more than ``max_line`` bytes of one line."""

    def __init__(self, line_ending: str, max_line: int, on_too_long: Callable[[], None]) -> None:
        self.endings = _ENDINGS[line_ending]
        self.max_line = max_line
        self.on_too_long = on_too_long
        self.buf = bytearray()
        self.discarding = False

    def feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        self.buf += data
        while True:
            cut = self._find()
            if cut is None:
                break
            at, width = cut
            line = bytes(self.buf[:at])
            del self.buf[: at + width]
            if self.discarding:
                self.discarding = False
                continue
            out.append(line)
        if len(self.buf) > self.max_line:
            if not self.discarding:
                self.on_too_long()
            self.discarding = True
            # Keep a tail so a CRLF split across reads is still recognised.
            del self.buf[:-1]
        return out

    def _find(self) -> tuple[int, int] | None:
        best: tuple[int, int] | None = None
        for end in self.endings:
            i = self.buf.find(end)
            if i >= 0 and (best is None or i < best[0]):
                best = (i, len(end))
        return best

    def flush(self) -> bytes | None:
        """The pending bytes as a line (after an idle pause), unless they were being discarded."""
        line = bytes(self.buf)
        self.buf.clear()
        if self.discarding:
            self.discarding = False
            return None
        return line or None


class SerialSource:
    """Reads codes from a serial port; ``opener`` makes the port (default pyserial)."""

    name = "serial"

    def __init__(
        self,
        port: str,
        *,
        baudrate: int = 9600,
        line_ending: str = "any",
        idle_ms: int = 50,
        max_line: int = 512,
        reconnect_s: float = 1.0,
        clock: Clock | None = None,
        direction: str | None = None,
        opener: Callable[[], Any] | None = None,
    ) -> None:
        if line_ending not in _ENDINGS:
            raise ValueError(f"line_ending must be one of {sorted(_ENDINGS)}")
        self.port = port
        self.baudrate = baudrate
        self.line_ending = line_ending
        self.idle_s = idle_ms / 1000.0
        self.reconnect_s = reconnect_s
        self.clock = clock or SYSTEM_CLOCK
        self.direction = direction
        self.stats: Counter[str] = Counter()
        self.filter = LineFilter(self.stats, max_line)
        self.max_line = max_line
        self._opener = opener or self._open
        self._ser: Any = None

    def _open(self) -> Any:
        import serial

        return serial.serial_for_url(
            self.port, baudrate=self.baudrate, timeout=min(0.05, self.idle_s or 0.05)
        )

    def scans(self, stop: threading.Event) -> Iterator[Scan]:
        import serial

        while not stop.is_set():
            try:
                self._ser = self._opener()
            except (serial.SerialException, OSError) as exc:
                self.stats["open_failed"] += 1
                log.debug("cannot open %s: %s", self.port, exc)
                stop.wait(self.reconnect_s)
                continue
            self.stats["connects"] += 1
            try:
                yield from self._read(self._ser, stop)
            except (serial.SerialException, OSError) as exc:
                self.stats["disconnects"] += 1
                log.warning("serial scanner %s lost: %s; reconnecting", self.port, exc)
            finally:
                self.close()
            stop.wait(self.reconnect_s)

    def _read(self, ser: Any, stop: threading.Event) -> Iterator[Scan]:
        def too_long() -> None:
            self.stats["too_long"] += 1

        splitter = LineSplitter(self.line_ending, self.max_line, too_long)
        last_data = self.clock.monotonic()
        while not stop.is_set():
            data = ser.read(max(1, getattr(ser, "in_waiting", 0) or 1))
            now = self.clock.monotonic()
            lines: list[bytes] = []
            if data:
                last_data = now
                lines = splitter.feed(data)
            elif splitter.buf and now - last_data >= self.idle_s:
                # Idle: a scanner without a line ending has finished its code. With a line
                # ending configured, a fragment that stops arriving is noise.
                pending = splitter.flush()
                if pending is not None:
                    if self.line_ending == "none":
                        lines = [pending]
                    else:
                        self.stats["fragment"] += 1
            for raw in lines:
                text = self.filter.accept(raw)
                if text is not None:
                    yield Scan(text, self.name, self.clock.now(), now, self.direction)

    def close(self) -> None:
        ser, self._ser = self._ser, None
        if ser is not None:
            try:
                ser.close()
            except Exception:  # closing a vanished device may fail; it is gone either way
                pass
