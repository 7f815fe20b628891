"""USB keyboard-wedge scanners via evdev: the scanner "types" the code and (usually) Enter.

The device is grabbed exclusively so the codes never reach a console or another program, key
codes are turned into characters with the configured keyboard layout (the scanner's, not the
Pi's), and a code ends with Enter or, for scanners set up without it, a pause of ``idle_ms``.
"""

from __future__ import annotations

import logging
import select
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

from gate.sources.base import LineFilter, Scan
from venue.clock import SYSTEM_CLOCK, Clock

log = logging.getLogger("venue.gate.wedge")

_DIGITS = "1234567890"
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _us() -> dict[str, tuple[str, str]]:
    """KEY_* name -> (plain, shifted) for a US layout."""
    m: dict[str, tuple[str, str]] = {}
    for d, s in zip(_DIGITS, "!@#$%^&*()", strict=True):
        m[f"KEY_{d}"] = (d, s)
    for c in _LETTERS:
        m[f"KEY_{c.upper()}"] = (c, c.upper())
    m.update(
        KEY_MINUS=("-", "_"),
        KEY_EQUAL=("=", "+"),
        KEY_SPACE=(" ", " "),
        KEY_DOT=(".", ">"),
        KEY_COMMA=(",", "<"),
        KEY_SLASH=("/", "?"),
        KEY_SEMICOLON=(";", ":"),
        KEY_APOSTROPHE=("'", '"'),
        KEY_LEFTBRACE=("[", "{"),
        KEY_RIGHTBRACE=("]", "}"),
        KEY_BACKSLASH=("\\", "|"),
        KEY_GRAVE=("`", "~"),
        KEY_KP0=("0", "0"),
        KEY_KP1=("1", "1"),
        KEY_KP2=("2", "2"),
        KEY_KP3=("3", "3"),
        KEY_KP4=("4", "4"),
        KEY_KP5=("5", "5"),
        KEY_KP6=("6", "6"),
        KEY_KP7=("7", "7"),
        KEY_KP8=("8", "8"),
        KEY_KP9=("9", "9"),
        KEY_KPMINUS=("-", "-"),
    )
    return m


def _de() -> dict[str, tuple[str, str]]:
    m = _us()
    m["KEY_Y"], m["KEY_Z"] = ("z", "Z"), ("y", "Y")
    m["KEY_SLASH"] = ("-", "_")
    m["KEY_MINUS"] = ("ß", "?")
    m["KEY_DOT"] = (".", ":")
    m["KEY_COMMA"] = (",", ";")
    for d, s in zip(_DIGITS, '!"§$%&/()=', strict=True):
        m[f"KEY_{d}"] = (d, s)
    return m


def _fr() -> dict[str, tuple[str, str]]:
    m = _us()
    # AZERTY: the top row types symbols, digits need Shift.
    for d, plain in zip(_DIGITS, "&é\"'(-è_çà", strict=True):
        m[f"KEY_{d}"] = (plain, d)
    m["KEY_Q"], m["KEY_A"] = ("a", "A"), ("q", "Q")
    m["KEY_W"], m["KEY_Z"] = ("z", "Z"), ("w", "W")
    m["KEY_SEMICOLON"] = ("m", "M")
    m["KEY_M"] = (",", "?")
    return m


KEYMAPS = {"us": _us, "de": _de, "fr": _fr}
_SHIFTS = {"KEY_LEFTSHIFT", "KEY_RIGHTSHIFT"}
_ENTERS = {"KEY_ENTER", "KEY_KPENTER"}


class KeyAssembler:
    """Turns key events (code, value) into finished codes; pure, so tests feed it real events."""

    def __init__(self, keymap: str = "us", max_line: int = 512) -> None:
        from evdev import ecodes

        table = KEYMAPS[keymap]()
        self._names = ecodes.KEY
        self.map = {
            ecodes.ecodes[name]: chars for name, chars in table.items() if name in ecodes.ecodes
        }
        self.shift_codes = {ecodes.ecodes[n] for n in _SHIFTS}
        self.enter_codes = {ecodes.ecodes[n] for n in _ENTERS}
        self.caps_code = ecodes.ecodes["KEY_CAPSLOCK"]
        self.max_line = max_line
        self.buf: list[str] = []
        self.shift = False
        self.caps = False
        self.overflow = False

    def key(self, code: int, value: int) -> bytes | None:
        """Feed one EV_KEY event (value 1 down, 0 up, 2 repeat); returns a finished line or None."""
        if code in self.shift_codes:
            self.shift = value != 0
            return None
        if value != 1:
            return None
        if code == self.caps_code:
            self.caps = not self.caps
            return None
        if code in self.enter_codes:
            return self.flush()
        chars = self.map.get(code)
        if chars is None:
            self.buf.append("\x00")  # an unmapped key makes the code unreadable, not shorter
        else:
            ch = chars[1] if self.shift else chars[0]
            if self.caps and ch.isalpha():
                ch = ch.swapcase()
            self.buf.append(ch)
        if len(self.buf) > self.max_line:
            self.overflow = True
            self.buf.clear()
        return None

    def flush(self) -> bytes | None:
        if self.overflow:
            self.overflow = False
            self.buf.clear()
            return b"\xff" * (self.max_line + 1)  # counted as too long by the line filter
        if not self.buf:
            return None
        text = "".join(self.buf)
        self.buf.clear()
        return text.encode("utf-8")


class WedgeSource:
    """Reads a keyboard-wedge scanner from ``/dev/input/eventN``; ``device`` may be injected."""

    name = "wedge"

    def __init__(
        self,
        path: str,
        *,
        grab: bool = True,
        keymap: str = "us",
        enter: bool = True,
        idle_ms: int = 50,
        max_line: int = 512,
        clock: Clock | None = None,
        direction: str | None = None,
        device: Any = None,
        reconnect_s: float = 1.0,
        opener: Any = None,
    ) -> None:
        if keymap not in KEYMAPS:
            raise ValueError(f"keymap must be one of {sorted(KEYMAPS)}")
        self.path = path
        self.grab = grab
        self.keymap = keymap
        self.enter = enter
        self.idle_s = idle_ms / 1000.0
        self.clock = clock or SYSTEM_CLOCK
        self.direction = direction
        self.stats: Counter[str] = Counter()
        self.filter = LineFilter(self.stats, max_line)
        self._device = device
        self.reconnect_s = reconnect_s
        self._opener = opener

    def scans(self, stop: threading.Event) -> Iterator[Scan]:
        """Read codes; reopen (and grab again) the device when the scanner is re-plugged."""
        from evdev import InputDevice

        while not stop.is_set():
            try:
                dev = self._device or (self._opener or InputDevice)(self.path)
                self._device = dev
                if self.grab:
                    dev.grab()
            except OSError as exc:
                self.stats["open_failed"] += 1
                self._device = None
                log.debug("cannot open %s: %s", self.path, exc)
                stop.wait(self.reconnect_s)
                continue
            self.stats["connects"] += 1
            try:
                yield from self._read(dev, stop)
            except OSError as exc:
                self.stats["disconnects"] += 1
                log.warning("wedge scanner %s lost: %s; reopening", self.path, exc)
                self.close()
                stop.wait(self.reconnect_s)

    def _read(self, dev: Any, stop: threading.Event) -> Iterator[Scan]:
        from evdev import ecodes

        asm = KeyAssembler(self.keymap, self.filter.max_line)
        while not stop.is_set():
            ready, _, _ = select.select([dev.fd], [], [], self.idle_s or 0.1)
            lines: list[bytes] = []
            if not ready:
                if not self.enter or asm.buf:
                    # Without Enter, a pause ends the code; with Enter, a half code is noise.
                    pending = asm.flush()
                    if pending is not None:
                        if self.enter:
                            self.stats["fragment"] += 1
                        else:
                            lines.append(pending)
            else:
                for ev in dev.read():
                    if ev.type == ecodes.EV_KEY:
                        line = asm.key(ev.code, ev.value)
                        if line is not None:
                            lines.append(line)
            for raw in lines:
                text = self.filter.accept(raw)
                if text is not None:
                    yield Scan(
                        text, self.name, self.clock.now(), self.clock.monotonic(), self.direction
                    )

    def close(self) -> None:
        dev, self._device = self._device, None
        if dev is not None:
            try:
                if self.grab:
                    dev.ungrab()
                dev.close()
            except OSError:
                pass
