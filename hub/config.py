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
    secrets_file: str = ""
    """JSON file (mode 0600) holding the phone-encryption key; empty: ``hub-secrets.json`` in
    the data directory. Created on first start; a key still in the database moves there once."""

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
class NotifySection:
    """``[notify]``: how the hub reaches customers. Empty host/URL: that channel is off."""

    smtp_host: str = ""
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_user: str = ""
    smtp_password: str | None = None
    smtp_password_file: str | None = None
    smtp_cafile: str | None = None
    """CA bundle (PEM) that STARTTLS verifies the server with; none: the system's CAs."""
    mail_from: str = "venue@localhost"
    sms_url: str = ""
    """URL template of the SMS gateway, with ``{phone}`` and ``{text}`` (URL-encoded)."""
    sms_method: str = "POST"
    sms_body: str = ""
    """Body template (e.g. JSON) with ``{phone}`` and ``{text}`` (JSON-escaped); empty: none."""
    sms_auth: str | None = None
    """The ``Authorization`` header value for the gateway (a secret: prefer ``sms_auth_file``)."""
    sms_auth_file: str | None = None
    max_attempts: int = 5
    retry_base_s: float = 30.0
    """Retries back off as ``retry_base_s * 2**attempt``; after ``max_attempts`` a send is
    recorded as failed (what it was for is kept; nothing else is undone)."""

    def validate(self) -> None:
        if not 0 < self.smtp_port < 65536:
            raise ConfigError("notify.smtp_port: expected 1..65535")
        if self.sms_method.upper() not in ("GET", "POST"):
            raise ConfigError("notify.sms_method: expected GET or POST")
        if self.max_attempts < 1:
            raise ConfigError("notify.max_attempts: must be at least 1")
        if self.retry_base_s < 0:
            raise ConfigError("notify.retry_base_s: must not be negative")


@dataclass(frozen=True)
class WalletSection:
    """``[wallet]``: the customers' wallet page served by the hub."""

    base_url: str = "http://127.0.0.1:8080"
    """The address customers open (the hub behind the venue's public name), for sent links."""
    link_ttl_s: int = 30 * 24 * 3600
    otp_ttl_s: int = 600
    referral_window_s: int = 7 * 24 * 3600
    """A customer can be credited as referred only this long after registering."""
    requests_per_ip_per_min: int = 20
    """One-time codes, code checks and joins per client address and minute (0: no limit)."""
    triggers_interval_s: int = 3600
    """How often the hub runs the birthday/welcome/win-back job (0: never; use cron and
    ``venue hub run-triggers``). Each thing is done once per period however often it runs."""
    timezone: str = "UTC"
    """The venue's IANA time zone (``Europe/Kyiv``): a birthday is the customer's day there."""

    def validate(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigError("wallet.base_url: expected an http:// or https:// URL")
        if self.link_ttl_s <= 0 or self.otp_ttl_s <= 0:
            raise ConfigError("wallet.link_ttl_s, wallet.otp_ttl_s: must be positive")
        if min(self.referral_window_s, self.requests_per_ip_per_min,
               self.triggers_interval_s) < 0:
            raise ConfigError("wallet.referral_window_s, wallet.requests_per_ip_per_min, "
                              "wallet.triggers_interval_s: must not be negative")
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(self.timezone)
        except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
            raise ConfigError(f"wallet.timezone: unknown time zone {self.timezone!r}") from None


@dataclass(frozen=True)
class HubConfig(BaseConfig):
    device: DeviceSection = field(default_factory=lambda: DeviceSection(id="hub1"))
    hub: HubSection = field(default_factory=HubSection)
    notify: NotifySection = field(default_factory=NotifySection)
    wallet: WalletSection = field(default_factory=WalletSection)

    def validate(self) -> None:
        self.hub.validate()
        self.notify.validate()
        self.wallet.validate()
