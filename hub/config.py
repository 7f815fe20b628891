"""The hub's config: the shared sections plus ``[hub]``."""

from __future__ import annotations

from dataclasses import dataclass, field

from venue.config import BaseConfig, DeviceSection
from venue.errors import ConfigError


@dataclass(frozen=True)
class HubSection:
    """``[hub]`` in the config file; ``VENUE_HUB__<KEY>`` in the environment."""

    db: str = ""
    """SQLAlchemy URL; empty means ``hub.sqlite3`` in the data directory (SQLite, WAL)."""
    listen: str = "127.0.0.1:8080"
    admin_token: str | None = None
    """Created as an admin token on start (also ``VENUE_ADMIN_TOKEN``)."""
    mqtt: bool = True
    """Run the MQTT ingest (the broker is ``[mqtt] url``)."""
    annul_window_s: int = 60

    def validate(self) -> None:
        host, sep, port = self.listen.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"hub.listen: expected HOST:PORT, got {self.listen!r}")
        if self.annul_window_s < 0:
            raise ConfigError("hub.annul_window_s: must not be negative")


@dataclass(frozen=True)
class HubConfig(BaseConfig):
    device: DeviceSection = field(default_factory=lambda: DeviceSection(id="hub1"))
    hub: HubSection = field(default_factory=HubSection)

    def validate(self) -> None:
        self.hub.validate()
