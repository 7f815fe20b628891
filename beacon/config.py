"""The beacon's typed config: ``[beacon]`` (scanner, thresholds, watchdog) and ``[simulation]``.

The scanner backend is chosen here (``backend = "bleak"`` on a Pi, ``"simulated"`` for the demo
and for trying thresholds without Bluetooth), never by a testing branch in the code.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from beacon.filter import FilterParams
from beacon.tracker import TrackerParams
from venue.config import BaseConfig
from venue.errors import ConfigError

DEMO_APP_UUID = "53fee14b-aa2c-4bb0-80d9-c6815dcc2d49"
"""Proximity UUID of the venue app in the demo and the examples; a real venue sets its own."""


@dataclass(frozen=True)
class BeaconSection:
    """How this scanner listens and decides who is present.

    See :class:`beacon.tracker.TrackerParams` for what the thresholds mean.
    """

    backend: Literal["bleak", "simulated"] = "bleak"
    """``bleak``: the Bluetooth adapter; ``simulated``: phones from ``[simulation]``."""
    adapter: str | None = None
    """BlueZ adapter (``hci0``); ``None``: the system default."""
    scanning_mode: Literal["passive", "active"] = "passive"
    """Passive scanning sends nothing (needs BlueZ advertisement monitors); if the adapter cannot,
    the daemon falls back to active scanning and says so in its telemetry."""
    app_uuids: list[str] = field(default_factory=lambda: [DEMO_APP_UUID])
    """Proximity UUIDs of the venue app; every other iBeacon is ignored."""
    enter_rssi: float = -75.0
    exit_rssi: float = -85.0
    min_near_s: float = 20.0
    """Long enough that someone walking past (about 8 s inside the near radius) never enters."""
    exit_timeout_s: float = 45.0
    forget_s: float = 300.0
    max_phones: int = 5000
    path_loss_exponent: float = 2.5
    """``n`` of the log-distance model: 2 in free space, 2.5-4 indoors with people around."""
    filter: FilterParams = field(default_factory=FilterParams)
    deaf_after_s: float = 5.0
    """No advertisement of any kind for this long: the scanner counts as deaf from its last one,
    and deaf time does not count towards exits. Keep it well under ``exit_timeout_s``."""
    watchdog_s: float = 30.0
    """No advertisement at all for this long: restart the scan, then the adapter."""
    telemetry_s: float = 30.0
    tick_s: float = 1.0
    """How often timeouts, the watchdog and telemetry are checked."""
    outbox: str | None = None
    """The durable event outbox (SQLite); default ``{data_dir}/beacon-outbox.db``."""

    def validate(self) -> None:
        for text in self.app_uuids:
            try:
                uuid.UUID(text)
            except ValueError:
                raise ConfigError(f"beacon.app_uuids: {text!r} is not a UUID") from None
        if not self.app_uuids:
            raise ConfigError("beacon.app_uuids: name the venue app's UUID")
        if self.path_loss_exponent <= 0:
            raise ConfigError("beacon.path_loss_exponent: must be positive")
        if self.watchdog_s <= 0 or self.telemetry_s <= 0 or self.tick_s <= 0:
            raise ConfigError("beacon.watchdog_s/telemetry_s/tick_s: must be positive")
        if not 0 < self.deaf_after_s <= min(self.watchdog_s, self.exit_timeout_s):
            raise ConfigError("beacon.deaf_after_s: must be positive and at most watchdog_s and "
                              "exit_timeout_s")
        self.tracker_params().validate()

    def tracker_params(self) -> TrackerParams:
        """The tracker's part of this section."""
        return TrackerParams(
            enter_rssi=self.enter_rssi,
            exit_rssi=self.exit_rssi,
            min_near_s=self.min_near_s,
            exit_timeout_s=self.exit_timeout_s,
            forget_s=self.forget_s,
            max_phones=self.max_phones,
            filter=self.filter,
        )

    def uuid_bytes(self) -> list[bytes]:
        """The app UUIDs as the raw bytes the parser yields."""
        return [uuid.UUID(u).bytes for u in self.app_uuids]


@dataclass(frozen=True)
class SimulationSection:
    """Phones for ``backend = "simulated"``: a recording to replay, or a seeded generator."""

    file: str | None = None
    """A JSON-lines recording (``venue beacon listen --record``) replayed in real time."""
    seed: int = 1
    visitors_per_minute: float = 4.0
    """App users who come in and stay."""
    passers_per_minute: float = 4.0
    """App users who walk past the scanner without stopping."""
    mean_stay_s: float = 300.0
    adverts_per_s: float = 2.0
    """Advertisements per phone per second."""
    other_devices: int = 5
    """Non-app BLE devices around (headphones, watches), so the watchdog sees normal traffic."""
    speed: float = 1.0
    """Simulated seconds per real second. Keep 1 for the daemon (its tracker runs on real time,
    so a faster world compresses every visit); faster is for ``listen`` and load tests."""

    def validate(self) -> None:
        if self.speed <= 0 or self.adverts_per_s <= 0:
            raise ConfigError("simulation.speed/adverts_per_s: must be positive")
        if self.visitors_per_minute < 0 or self.passers_per_minute < 0 or self.mean_stay_s <= 0:
            raise ConfigError("simulation: rates must not be negative")


@dataclass(frozen=True)
class BeaconConfig(BaseConfig):
    """Everything a beacon scanner reads from ``beacon.toml``."""

    beacon: BeaconSection = field(default_factory=BeaconSection)
    simulation: SimulationSection = field(default_factory=SimulationSection)

    def outbox_path(self) -> Path:
        """The outbox file under ``device.data_dir`` unless ``beacon.outbox`` names one."""
        if self.beacon.outbox:
            return Path(self.beacon.outbox)
        return Path(self.device.data_dir) / "beacon-outbox.db"
