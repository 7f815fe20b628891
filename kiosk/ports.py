"""What the presenter is given: its settings and where it reports events.

Kept apart from the state machine so the app's wiring and the tests build these without reading
the transitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class EventSink(Protocol):
    """Where the kiosk reports check-ins and orders (MQTT in the app); customer ids only."""

    def checkin(
        self, *, customer: str, business: int, credited: bool, reason: str, offline: bool
    ) -> None: ...

    def order(self, *, check: int, number: str, total: str, currency: str, lines: int) -> None: ...


class NullEvents:
    def checkin(self, **kw: Any) -> None:
        pass

    def order(self, **kw: Any) -> None:
        pass


@dataclass(frozen=True)
class Settings:
    """The presenter's part of the kiosk config."""

    device: str = "kiosk1"
    region: str = "UA"
    businesses: tuple[int, ...] = (1,)
    shop_business: int = 1
    languages: tuple[str, ...] = ("en", "uk")
    default_language: str = "en"
    idle_timeout_s: float = 45.0
    done_timeout_s: float = 6.0
    retry_s: float = 30.0
    maintenance_pin: str = "2468"
    camera: bool = False
    promo_rotate_s: float = 8.0
    """How long Attract shows one promotion before the next."""
    offers_refresh_s: float = 300.0
    """How often the running promotions and lotteries are asked for."""
    busy_limit_s: float = 15.0
    """A hub call still running after this is abandoned (offline message) so the customer is
    never stuck behind the veil; its late answer is dropped."""
