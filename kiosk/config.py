"""The kiosk's typed config: the shared sections plus ``[kiosk]``, ``[kiosk.branding]``,
``[kiosk.display]`` and ``[kiosk.camera]``.

Everything an installer changes per venue lives here (which hub, which businesses, the country of
the keypad, the languages, the PIN, the look), so one image serves every kiosk and the demo data
source is chosen by config (``hub_url = "demo:"``) rather than by a test branch in the code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import phonenumbers

from venue.config import BaseConfig, resolve_secret
from venue.errors import ConfigError

DEMO_URL = "demo:"
"""``hub_url`` that selects the built-in demo data source (screenshots, trade shows, tests)."""

LANGUAGES = ("en", "uk")
"""Languages with a translation in ``kiosk/locale``."""


@dataclass(frozen=True)
class BrandingSection:
    """How the kiosk looks: the venue's name, colours (``#rrggbb``) and an optional logo."""

    venue_name: str = "Venue"
    tagline: str = ""
    """A line under the name on the attract screen (e.g. "Collect points with every visit")."""
    background: str = "#101826"
    surface: str = "#1c2738"
    primary: str = "#f2a541"
    """Buttons that move the customer forward."""
    text: str = "#f5f7fa"
    muted: str = "#93a1b5"
    danger: str = "#e5484d"
    success: str = "#3fb67b"
    logo: str | None = None
    """PNG shown on the attract screen; absent or unreadable: the venue name alone."""

    def validate(self) -> None:
        for name in ("background", "surface", "primary", "text", "muted", "danger", "success"):
            value = getattr(self, name)
            if not (
                len(value) == 7
                and value.startswith("#")
                and all(c in "0123456789abcdefABCDEF" for c in value[1:])
            ):
                raise ConfigError(f"kiosk.branding.{name}: expected #rrggbb, got {value!r}")


@dataclass(frozen=True)
class DisplaySection:
    """The screen: on a Pi the kiosk owns it (KMS/DRM, full screen, no cursor)."""

    fullscreen: bool = True
    width: int = 1280
    """Window size when not full screen (development, screenshots)."""
    height: int = 800
    rotation: Literal[0, 90, 180, 270] = 0
    """Rotate the picture for a display mounted upside down or in portrait."""
    show_cursor: bool = False
    touch_provider: Literal["sdl", "mtdev", "hidinput"] = "sdl"
    """Which input provider reads the touch screen. Exactly one, or every touch arrives twice."""


@dataclass(frozen=True)
class CameraSection:
    """Card QR scanning; ``none`` hides the scan button."""

    kind: Literal["none", "opencv", "picamera2"] = "none"
    index: int = 0
    """OpenCV camera index."""
    width: int = 640
    height: int = 480
    fps: float = 10.0


@dataclass(frozen=True)
class KioskSection:
    """What the kiosk does and whom it asks."""

    hub_url: str = "http://127.0.0.1:8080"
    """The hub's base URL, or ``demo:`` for the built-in demo data."""
    hub_token: str | None = None
    hub_token_file: str | None = None
    """A file holding the hub token (``venue hub token create --role kiosk``)."""
    businesses: list[int] = field(default_factory=lambda: [1])
    """Businesses this kiosk shows and credits visits for; the first one is the shop's."""
    shop_business: int | None = None
    """Business whose catalog the shop sells; default: the first of ``businesses``."""
    region: str = "UA"
    """Country of the keypad: numbers typed without ``+`` belong to it."""
    languages: list[str] = field(default_factory=lambda: list(LANGUAGES))
    default_language: str = "en"
    idle_timeout_s: float = 45.0
    """No touch for this long: back to Attract, the customer forgotten."""
    done_timeout_s: float = 6.0
    """How long the thank-you screen stays."""
    http_timeout_s: float = 2.0
    """Per request; the customer is waiting at the screen."""
    retry_s: float = 30.0
    """How often queued visit credits are retried (and an offline hub probed)."""
    telemetry_s: float = 60.0
    maintenance_pin: str = "2468"
    """PIN for the maintenance screen (tap the top-left corner five times to open its pad)."""
    media_max_mb: float = 32.0
    """Bound of the picture cache (``{data_dir}/media``); the least recently shown go first."""
    queue: str | None = None
    """Durable queue of visit credits (SQLite); default ``{data_dir}/kiosk-queue.db``."""
    branding: BrandingSection = field(default_factory=BrandingSection)
    display: DisplaySection = field(default_factory=DisplaySection)
    camera: CameraSection = field(default_factory=CameraSection)

    def validate(self) -> None:
        if not self.businesses:
            raise ConfigError("kiosk.businesses: name at least one business id")
        if self.shop_business is not None and self.shop_business not in self.businesses:
            raise ConfigError("kiosk.shop_business: must be one of kiosk.businesses")
        if self.region.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ConfigError(f"kiosk.region: unknown country {self.region!r} (e.g. UA, GB, US)")
        unknown = [lang for lang in self.languages if lang not in LANGUAGES]
        if unknown or not self.languages:
            raise ConfigError(
                f"kiosk.languages: expected some of {list(LANGUAGES)}, got {self.languages!r}"
            )
        if self.default_language not in self.languages:
            raise ConfigError("kiosk.default_language: must be one of kiosk.languages")
        for name in ("idle_timeout_s", "done_timeout_s", "http_timeout_s", "retry_s",
                     "media_max_mb"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"kiosk.{name}: must be positive")
        if not (self.maintenance_pin.isdigit() and 4 <= len(self.maintenance_pin) <= 8):
            raise ConfigError("kiosk.maintenance_pin: expected 4-8 digits")
        if not (self.hub_url == DEMO_URL or self.hub_url.startswith(("http://", "https://"))):
            raise ConfigError(
                f"kiosk.hub_url: expected http(s)://host:port or {DEMO_URL!r}, got {self.hub_url!r}"
            )
        self.branding.validate()

    @property
    def demo(self) -> bool:
        """True when the built-in demo data source stands in for the hub."""
        return self.hub_url == DEMO_URL

    @property
    def shop(self) -> int:
        """The business whose catalog the shop sells."""
        return self.shop_business if self.shop_business is not None else self.businesses[0]

    def resolved_token(self) -> str | None:
        """The hub token, read from ``hub_token_file`` when one is named."""
        return resolve_secret(self.hub_token, self.hub_token_file, "kiosk.hub_token_file")


@dataclass(frozen=True)
class KioskConfig(BaseConfig):
    """Everything a kiosk reads from ``kiosk.toml``."""

    kiosk: KioskSection = field(default_factory=KioskSection)

    def data_path(self, name: str, override: str | None) -> Path:
        """A durable file under ``device.data_dir`` unless the config names one."""
        return Path(override) if override else Path(self.device.data_dir) / name
