"""Scanner sources: stdin, serial (pyserial loop:// and real ptys), keyboard wedge, folder."""

from __future__ import annotations

import io
import os
import threading
import time
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial
from evdev import InputEvent, ecodes
from gatekit import Issuer, qr_frame

from gate.sources.base import Scan
from gate.sources.camera import FolderSource
from gate.sources.serial import LineSplitter, SerialSource
from gate.sources.stdin import StdinSource
from gate.sources.wedge import KeyAssembler, WedgeSource
from venue.decoder import Decoder

NOISE = bytes(range(256)) * 4
LONG = b"A" * 10_000
BROKEN_UTF8 = b"V1ABC\xc3\x28\xa0\xa1DEF"


def collect(source, stop: threading.Event, want: int, timeout: float = 10.0) -> list[Scan]:
    """Run a source in a thread until it yielded ``want`` scans or the deadline passed."""
    got: list[Scan] = []
    done = threading.Event()

    def run() -> None:
        for s in source.scans(stop):
            got.append(s)
            if len(got) >= want:
                break
        done.set()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    done.wait(timeout)
    return got


def test_stdin_lines_and_garbage() -> None:
    data = b"GOOD-1\n" + NOISE + b"\n" + LONG + b"\n" + BROKEN_UTF8 + b"\n\nGOOD-2\r\n"
    src = StdinSource(io.BytesIO(data), max_line=512)
    scans = list(src.scans(threading.Event()))
    assert [s.text for s in scans] == ["GOOD-1", "GOOD-2"]
    assert all(s.source == "stdin" for s in scans)
    garbage = sum(src.stats[k] for k in ("too_long", "not_utf8", "binary"))
    assert src.stats["too_long"] >= 1 and src.stats["not_utf8"] >= 1 and garbage >= 3


def test_line_splitter_endings_and_overflow() -> None:
    long_lines: list[int] = []
    sp = LineSplitter("crlf", 16, lambda: long_lines.append(1))
    assert sp.feed(b"AB\r") == []
    assert sp.feed(b"\nCD\r\n") == [b"AB", b"CD"]
    assert sp.feed(b"X" * 40) == [] and long_lines == [1]
    assert sp.feed(b"Y" * 40 + b"\r\nOK\r\n") == [b"OK"]
    assert long_lines == [1]
    cr = LineSplitter("cr", 16, lambda: None)
    assert cr.feed(b"A\rB\r") == [b"A", b"B"]
    none = LineSplitter("none", 16, lambda: None)
    assert none.feed(b"CODE") == [] and none.flush() == b"CODE"


def test_serial_loop_garbage_is_rejected_and_counted(issuer: Issuer) -> None:
    port = serial.serial_for_url("loop://", timeout=0.02)
    src = SerialSource("loop://", max_line=512, opener=lambda: port)
    code = issuer.code(7, 1)
    data = NOISE + b"\r\n" + LONG + b"\r\n" + BROKEN_UTF8 + b"\r\n" + code.encode() + b"\r\n"
    data += b"\x01\x02\x03\n" + b"SECOND\n"
    # loop:// holds 4 kB: write from another thread while the source reads.
    threading.Thread(target=port.write, args=(data,), daemon=True).start()
    stop = threading.Event()
    scans = collect(src, stop, 2)
    stop.set()
    assert [s.text for s in scans] == [code, "SECOND"]
    assert src.stats["too_long"] >= 1 and src.stats["not_utf8"] >= 1 and src.stats["binary"] >= 1


def test_serial_without_line_ending_uses_idle_pause() -> None:
    port = serial.serial_for_url("loop://", timeout=0.01)
    src = SerialSource("loop://", line_ending="none", idle_ms=30, opener=lambda: port)
    stop = threading.Event()
    port.write(b"FIRST")
    scans: list[Scan] = []

    def later() -> None:
        time.sleep(0.3)
        port.write(b"SECOND")

    threading.Thread(target=later, daemon=True).start()
    scans = collect(src, stop, 2)
    stop.set()
    assert [s.text for s in scans] == ["FIRST", "SECOND"]


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, str]]:
    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    yield master, path
    for fd in (master, slave):
        try:
            os.close(fd)
        except OSError:
            pass


def test_serial_pty_garbage_and_reconnect_after_unplug(tmp_path: Path) -> None:
    """A real tty: garbage is counted; when the scanner vanishes the source reopens the port."""
    m1, s1 = os.openpty()
    tty.setraw(s1)
    link = tmp_path / "ttyGATE"
    link.symlink_to(os.ttyname(s1))
    src = SerialSource(str(link), baudrate=9600, reconnect_s=0.05)
    stop = threading.Event()
    got: list[str] = []
    seen = threading.Condition()

    def run() -> None:
        for s in src.scans(stop):
            with seen:
                got.append(s.text)
                seen.notify_all()

    t = threading.Thread(target=run, daemon=True)
    t.start()

    def wait_for(n: int) -> None:
        with seen:
            assert seen.wait_for(lambda: len(got) >= n, 10), (got, dict(src.stats))

    deadline = time.monotonic() + 10
    while src.stats["connects"] < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.write(m1, NOISE + b"\r\n" + LONG + b"\r\n" + BROKEN_UTF8 + b"\r\nONE\r\n")
    wait_for(1)
    assert src.stats["too_long"] >= 1 and src.stats["not_utf8"] >= 1
    # Unplug: the pty's master side goes away, reads fail; plug in a new one at the same path.
    os.close(m1)
    os.close(s1)
    m2, s2 = os.openpty()
    tty.setraw(s2)
    link.unlink()
    link.symlink_to(os.ttyname(s2))
    while src.stats["connects"] < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.write(m2, b"TWO\r\n")
    wait_for(2)
    stop.set()
    t.join(5)
    os.close(m2)
    os.close(s2)
    assert got == ["ONE", "TWO"]
    assert src.stats["disconnects"] >= 1


def _keys(asm: KeyAssembler, text: str) -> list[bytes]:
    out = []
    for ch in text:
        shifted = ch.isupper() or ch in "!@#$%^&*()_+"
        code = ecodes.ecodes["KEY_ENTER" if ch == "\n" else f"KEY_{ch.upper()}"
                             if ch.isalnum() else {"-": "KEY_MINUS"}[ch]]
        if shifted:
            asm.key(ecodes.KEY_LEFTSHIFT, 1)
        for value in (1, 0):
            ev = InputEvent(0, 0, ecodes.EV_KEY, code, value)
            line = asm.key(ev.code, ev.value)
            if line is not None:
                out.append(line)
        if shifted:
            asm.key(ecodes.KEY_LEFTSHIFT, 0)
    return out


def test_wedge_keymap_assembles_codes(issuer: Issuer) -> None:
    code = issuer.code(7, 9)
    asm = KeyAssembler("us")
    assert _keys(asm, code + "\n") == [code.encode()]
    assert _keys(asm, "7-42-3\n") == [b"7-42-3"]
    de = KeyAssembler("de")
    assert _keys(de, "Zy\n") == [b"Yz"]  # the scanner types on a German layout


class _FakeEvdev:
    """Stands in for an ``evdev.InputDevice``: a real pipe fd and real ``InputEvent`` objects."""

    def __init__(self, events: list[InputEvent] | None) -> None:
        self.r, self.w = os.pipe()
        self.events = events
        self.grabbed = False
        os.write(self.w, b"x")

    @property
    def fd(self) -> int:
        return self.r

    def grab(self) -> None:
        self.grabbed = True

    def ungrab(self) -> None:
        self.grabbed = False

    def read(self) -> list[InputEvent]:
        if self.events is None:
            raise OSError(19, "No such device")  # unplugged
        os.read(self.r, 1)
        events, self.events = self.events, []
        return events or []

    def close(self) -> None:
        os.close(self.r)
        os.close(self.w)


def test_wedge_source_grabs_and_reads_without_enter() -> None:
    events = [
        InputEvent(0, 0, ecodes.EV_KEY, ecodes.ecodes[f"KEY_{c}"], v) for c in "AB1" for v in (1, 0)
    ]
    dev = _FakeEvdev(events)
    src = WedgeSource("/dev/input/event99", enter=False, idle_ms=20, device=dev)
    stop = threading.Event()
    scans = collect(src, stop, 1)
    assert dev.grabbed
    stop.set()
    src.close()
    assert [s.text for s in scans] == ["ab1"] and scans[0].source == "wedge"


def test_wedge_source_reopens_a_replugged_scanner() -> None:
    enter = [InputEvent(0, 0, ecodes.EV_KEY, ecodes.KEY_ENTER, v) for v in (1, 0)]
    keys = [InputEvent(0, 0, ecodes.EV_KEY, ecodes.ecodes[f"KEY_{c}"], v)
            for c in "OK" for v in (1, 0)]
    devices = [_FakeEvdev(None), _FakeEvdev(keys + enter)]
    src = WedgeSource("/dev/input/event99", reconnect_s=0.01, opener=lambda path: devices.pop(0))
    stop = threading.Event()
    scans = collect(src, stop, 1)
    stop.set()
    assert [s.text for s in scans] == ["ok"]
    assert src.stats["disconnects"] == 1 and src.stats["connects"] == 2


def test_folder_source_decodes_images(tmp_path: Path, issuer: Issuer) -> None:
    codes = [issuer.code(7, n) for n in (1, 2)]
    for i, c in enumerate(codes):
        qr_frame(c).save(tmp_path / f"{i}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    src = FolderSource(tmp_path, Decoder())
    scans = list(src.scans(threading.Event()))
    assert [s.text for s in scans] == codes
    assert src.stats["frames"] == 2


@pytest.mark.parametrize("kind, lib", [("camera", "picamera2"), ("usb-camera", "cv2")])
def test_camera_without_its_library_says_what_to_install(kind: str, lib: str) -> None:
    import importlib.util

    from gate.config import ScannerSection
    from gate.sources.base import open_source
    from gate.sources.camera import CameraUnavailable
    from venue.clock import SYSTEM_CLOCK

    if importlib.util.find_spec(lib) is not None:
        pytest.skip(f"{lib} is installed here")
    src = open_source(ScannerSection(kind=kind), clock=SYSTEM_CLOCK)  # type: ignore[arg-type]
    with pytest.raises(CameraUnavailable, match=lib if lib != "cv2" else "OpenCV"):
        next(iter(src.scans(threading.Event())))
