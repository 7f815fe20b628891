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
    share_group: str = ""
    """Hub replicas of a chain set this (e.g. ``"hub"``) to split events with ``$share``; a
    venue's single hub leaves it empty so its session keeps events across a broker restart."""
    """Run the MQTT ingest (the broker is ``[mqtt] url``)."""
    annul_window_s: int = 60
    phone_region: str = "UA"
    """Country of phone numbers typed without ``+`` at the kiosks and registers."""
    identify_per_device_per_min: int = 60
    """Identifications a kiosk may ask per minute (0: no limit); a kiosk is no phone oracle."""
    identify_per_phone_per_min: int = 10
    """Identifications of one number per minute, from any device (0: no limit)."""

    def validate(self) -> None:
        host, sep, port = self.listen.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"hub.listen: expected HOST:PORT, got {self.listen!r}")
        if self.annul_window_s < 0:
            raise ConfigError("hub.annul_window_s: must not be negative")
        if self.identify_per_device_per_min < 0 or self.identify_per_phone_per_min < 0:
            raise ConfigError("hub.identify_per_*_per_min: must not be negative")
        import phonenumbers

        if self.phone_region.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ConfigError(f"hub.phone_region: unknown region {self.phone_region!r}")


@dataclass(frozen=True)
class HubConfig(BaseConfig):
    device: DeviceSection = field(default_factory=lambda: DeviceSection(id="hub1"))
    hub: HubSection = field(default_factory=HubSection)

    def validate(self) -> None:
        self.hub.validate()
