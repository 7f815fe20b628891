"""The gate's typed config: ``[gate]``, ``[scanner]`` (or ``[[scanner]]``), ``[decoder]``, ``[io]``.

Every setting that chooses hardware lives here, so tests and simulations pick stand-ins (stdin,
folder of images, mock pins) the same way an installer picks a camera and GPIO pins: by config,
never by a testing branch in the code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from venue.config import BaseConfig, resolve_secret
from venue.errors import ConfigError

Direction = Literal["in", "out"]
Mode = Literal["normal", "locked", "free-passage"]


@dataclass(frozen=True)
class GateSection:
    """How this gate decides: the hub, its budget, direction and offline rules."""

    hub_url: str = "http://127.0.0.1:8000"
    hub_token: str | None = None
    hub_token_file: str | None = None
    """A file holding the hub token, so the config itself can be kept in git."""
    budget_ms: int = 250
    """How long a visitor waits for the hub before the gate decides offline."""
    direction: Direction = "in"
    allow_serial_entry: bool = False
    """Accept short serials (``7-42-3``) typed on a keypad; only where staff watch the gate."""
    replica_max_age_s: float = 6 * 3600.0
    """Refuse to decide offline with a replica older than this (fail closed)..."""
    fail_open: bool = False
    """...unless the operator chose to fail open (an emergency setting): decide with the old
    replica anyway (forged, expired and locally used codes are still refused), or admit every
    well-formed code when the gate never had a replica."""
    replica_refresh_s: float = 30.0
    """Incremental replica refresh period while the hub answers."""
    probe_s: float = 1.0
    """How often a gate that is offline asks the hub whether it is back."""
    debounce_s: float = 3.0
    """The same code read again within this window is the same presentation, not a new scan."""
    annul_timeout_s: float = 8.0
    """Wait this long for the turnstile to turn after an admission, then annul it."""
    mode: Mode = "normal"
    telemetry_s: float = 10.0
    journal_keep_days: float = 30.0
    """Settled, uploaded journal rows older than this are deleted (daily)."""
    journal: str | None = None
    """The redemption journal (SQLite); default ``{data_dir}/gate-journal.db``."""
    replica: str | None = None
    """The local replica (SQLite); default ``{data_dir}/gate-replica.db``."""

    def validate(self) -> None:
        if self.budget_ms <= 0:
            raise ConfigError("gate.budget_ms: must be positive")
        if self.debounce_s < 0 or self.annul_timeout_s <= 0:
            raise ConfigError("gate.debounce_s/annul_timeout_s: must be positive")

    def resolved_token(self) -> str | None:
        """The hub token, read from ``hub_token_file`` when one is named."""
        return resolve_secret(self.hub_token, self.hub_token_file, "gate.hub_token_file")


@dataclass(frozen=True)
class ScannerSection:
    """One code reader. ``kind`` picks the source; the other keys are that source's options."""

    kind: Literal["camera", "usb-camera", "folder", "serial", "wedge", "stdin"] = "stdin"
    direction: Direction | None = None
    """Overrides ``gate.direction`` for this reader (one reader each side of a turnstile)."""
    # folder / file images
    path: str | None = None
    """Folder or image file (folder source); device path (wedge: ``/dev/input/event3``)."""
    loop: bool = False
    # camera
    camera: int = 0
    width: int = 640
    height: int = 480
    fps: float = 15.0
    # serial
    port: str | None = None
    """Serial port or pyserial URL (``/dev/ttyACM0``, ``loop://``)."""
    baudrate: int = 9600
    line_ending: Literal["cr", "lf", "crlf", "any", "none"] = "any"
    idle_ms: int = 50
    """With ``line_ending = "none"`` (or a wedge without Enter) a pause this long ends a code."""
    max_line: int = 512
    reconnect_s: float = 1.0
    # wedge
    grab: bool = True
    keymap: Literal["us", "de", "fr"] = "us"
    enter: bool = True

    def check(self) -> None:
        """Called by :meth:`GateConfig.validate` (a union-typed section cannot validate itself
        without its message being lost in the union's fallback)."""
        if self.kind == "serial" and not self.port:
            raise ConfigError("scanner.port: required for a serial scanner")
        if self.kind in ("folder", "wedge") and not self.path:
            raise ConfigError(f"scanner.path: required for a {self.kind} scanner")


@dataclass(frozen=True)
class DecoderSection:
    """How camera frames are decoded (the daemon and ``venue gate decode`` share it)."""

    order: list[Literal["zxing", "pyzbar"]] = field(default_factory=lambda: ["zxing", "pyzbar"])
    formats: list[str] = field(default_factory=lambda: ["qrcode"])
    """Symbologies to look for: qrcode, code128, code39, ean13, ean8, itf, datamatrix, pdf417..."""
    roi: list[float] | None = None
    """Region of interest as fractions ``[x, y, width, height]`` of the frame; ``None``: whole."""

    def validate(self) -> None:
        if not self.order:
            raise ConfigError("decoder.order: name at least one decoder")
        if self.roi is not None:
            if len(self.roi) != 4 or not all(0.0 <= v <= 1.0 for v in self.roi):
                raise ConfigError("decoder.roi: expected [x, y, width, height] fractions 0..1")
            if self.roi[2] <= 0 or self.roi[3] <= 0:
                raise ConfigError("decoder.roi: width and height must be positive")


@dataclass(frozen=True)
class IoSection:
    """GPIO wiring (BCM numbers); ``None`` means not fitted."""

    pin_factory: Literal["default", "mock"] = "default"
    """``mock`` runs without hardware (gpiozero MockFactory) for simulation."""
    mock_trace: str | None = None
    """With ``mock`` pins: append every output change to this file (simulation audit trail)."""
    relay_pin: int | None = 17
    active_high: bool = True
    pulse_ms: int = 1000
    green_pin: int | None = 27
    red_pin: int | None = 22
    buzzer_pin: int | None = 23
    rotation_pin: int | None = None
    """Turnstile rotation sensor or door contact (e.g. 24); unset: every admission counts as
    passed (a door without a contact)."""
    rotation_pull_up: bool = True


@dataclass(frozen=True)
class GateConfig(BaseConfig):
    """Everything a gate reads from ``gate.toml``."""

    gate: GateSection = field(default_factory=GateSection)
    scanner: ScannerSection | list[ScannerSection] = field(default_factory=ScannerSection)
    decoder: DecoderSection = field(default_factory=DecoderSection)
    io: IoSection = field(default_factory=IoSection)

    def validate(self) -> None:
        if not self.scanners:
            raise ConfigError("scanner: configure at least one scanner")
        for s in self.scanners:
            s.check()

    @property
    def scanners(self) -> list[ScannerSection]:
        """``[scanner]`` or every ``[[scanner]]`` as a list."""
        return list(self.scanner) if isinstance(self.scanner, list) else [self.scanner]

    def data_path(self, name: str, override: str | None) -> Path:
        """A durable file under ``device.data_dir`` unless the config names one."""
        return Path(override) if override else Path(self.device.data_dir) / name
