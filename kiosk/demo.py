"""The built-in demo data source: a small café that answers like the hub, in memory.

Chosen by config (``hub_url = "demo:"``) or ``--screenshot-tour``; it is data, not a mock: it
keeps customers, points, cooldowns and orders, honours idempotency keys, and refuses what the
hub would refuse (unknown customer, insufficient points, unavailable items), so the whole kiosk
can be shown, photographed and benchmarked without a hub. ``offline = True`` makes every call fail
as an unreachable hub would.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from decimal import Decimal

from kiosk.demo_offers import DEMO_LOSE_CODE, DEMO_WIN_CODE, DemoOffers
from kiosk.models import (
    Balance,
    Catalog,
    Category,
    CheckResult,
    Coupon,
    HubError,
    HubReason,
    Item,
    OrderLine,
    Redemption,
    Reward,
    Summary,
    VisitRequest,
    VisitResult,
)
from venue.clock import SYSTEM_CLOCK, Clock
from venue.errors import PhoneNumberError
from venue.phone import mask, normalize

DEMO_PHONE = "+380671234567"
"""A returning customer with points and coupons (type ``0671234567`` on a UA keypad)."""
DEMO_CARD = "card-demo-0001"
"""The digital card QR of that customer."""

BUSINESS_NAMES = {1: "Café Dnipro", 2: "Bakery"}
VISIT_POINTS = 10
COOLDOWN = timedelta(hours=4)

REWARDS = (
    (3, 1, "Free espresso", 50),
    (4, 1, "Croissant", 80),
    (5, 1, "Cappuccino", 120),
    (6, 1, "Breakfast set", 300),
)
CATEGORIES = ((1, "Coffee"), (2, "Tea"), (3, "Pastry"))
ITEMS = (
    (5, 1, "Espresso", "45.00"),
    (6, 1, "Latte", "65.00"),
    (7, 1, "Cappuccino", "60.00"),
    (8, 1, "Flat white", "70.00"),
    (9, 2, "Green tea", "40.00"),
    (10, 2, "Earl Grey", "40.00"),
    (11, 3, "Croissant", "55.00"),
    (12, 3, "Cinnamon roll", "60.00"),
    (13, 3, "Cheesecake", "95.00"),
)
UNAVAILABLE = frozenset({10})
NO_PICTURE = frozenset({10, 13})
"""Items without a picture (the tile shows the initial instead)."""


def _picture(iid: int, name: str) -> str | None:
    slug = name.lower().replace(" ", "-")
    return None if iid in NO_PICTURE else f"/api/v1/media/{slug}.png"


REWARD_PICTURES = {3: "/api/v1/media/espresso.png", 4: "/api/v1/media/croissant.png",
                   5: "/api/v1/media/cappuccino.png"}
"""The breakfast set has none: its tile is the plain button."""


class DemoHub(DemoOffers):
    """A :class:`~kiosk.models.HubClient` over demo data.

    Args:
        clock: Time for cooldowns and coupon validity.
        latency_s: Added to every call, to feel (and benchmark) a hub on the LAN.
        region: Region for numbers given without ``+``.
    """

    def __init__(
        self, *, clock: Clock | None = None, latency_s: float = 0.0, region: str = "UA"
    ) -> None:
        self.clock = clock or SYSTEM_CLOCK
        self.latency_s = latency_s
        self.region = region
        self.offline = False
        self._lock = threading.Lock()
        self._phones: dict[str, str] = {}
        self._points: dict[tuple[str, int], int] = {}
        self._coupons: dict[str, list[Coupon]] = {}
        self._last_visit: dict[tuple[str, int], datetime] = {}
        self._answers: dict[str, object] = {}
        self._next_serial = 100
        self._next_check = 16
        self.checks: list[tuple[str | None, list[OrderLine]]] = []
        self._init_offers()
        self._add(DEMO_PHONE, "c_demo0001", points=120)
        self._coupons["c_demo0001"] = [
            Coupon("7:42", 7, "Free coffee", 1, code="V1DEMO7QX42FREECOFFEE", serial="7-42-3"),
            Coupon("8:5", 8, "Birthday cake", 1, code=None, serial=None),
        ]

    def _add(self, e164: str, customer: str, points: int = 0) -> None:
        self._phones[e164] = customer
        for b in BUSINESS_NAMES:
            self._points[(customer, b)] = points if b == 1 else points // 4

    def _wait(self) -> None:
        if self.latency_s:
            time.sleep(self.latency_s)
        if self.offline:
            raise HubError(HubReason.OFFLINE, "demo hub is offline")

    def _summary(self, customer: str, e164: str, businesses: list[int], new: bool) -> Summary:
        balances = tuple(
            Balance(b, BUSINESS_NAMES.get(b, f"Business {b}"), self._points.get((customer, b), 0))
            for b in businesses
        )
        rewards = tuple(
            Reward(rid, b, name, cost, self._points.get((customer, b), 0) >= cost,
                   image=REWARD_PICTURES.get(rid))
            for rid, b, name, cost in REWARDS
            if b in businesses
        )
        coupons = tuple(c for c in self._coupons.get(customer, []) if c.business in businesses)
        return Summary(customer, mask(e164), new, balances, coupons, rewards)

    def _e164(self, phone: str) -> str:
        try:
            return normalize(phone, self.region)
        except PhoneNumberError as exc:
            raise HubError(HubReason.INVALID_PHONE, str(exc)) from None

    # -- HubClient -----------------------------------------------------------------------------

    def identify(
        self, *, phone: str | None = None, card: str | None = None, businesses: list[int]
    ) -> Summary:
        self._wait()
        with self._lock:
            if card is not None:
                if card != DEMO_CARD:
                    raise HubError(HubReason.UNKNOWN_CUSTOMER, "unknown card")
                e164 = DEMO_PHONE
            else:
                e164 = self._e164(phone or "")
            customer = self._phones.get(e164)
            if customer is None:
                raise HubError(HubReason.UNKNOWN_CUSTOMER, "unknown customer")
            return self._summary(customer, e164, businesses, new=False)

    def register(self, *, phone: str, businesses: list[int]) -> Summary:
        self._wait()
        with self._lock:
            e164 = self._e164(phone)
            customer = self._phones.get(e164)
            if customer is not None:
                return self._summary(customer, e164, businesses, new=False)
            customer = f"c_demo{len(self._phones) + 1:04d}"
            self._add(e164, customer)
            return self._summary(customer, e164, businesses, new=True)

    def credit_visit(self, visit: VisitRequest) -> VisitResult:
        self._wait()
        with self._lock:
            first = self._answers.get(visit.idempotency_key)
            if isinstance(first, VisitResult):
                return first
            key = (visit.customer, visit.business)
            last = self._last_visit.get(key)
            if last is not None and visit.at < last + COOLDOWN:
                result = VisitResult(
                    visit.business, False, "cooldown", 0, self._points.get(key, 0),
                    next_at=last + COOLDOWN,
                )
            else:
                self._last_visit[key] = visit.at
                self._points[key] = self._points.get(key, 0) + VISIT_POINTS
                result = VisitResult(visit.business, True, "ok", VISIT_POINTS, self._points[key])
            self._answers[visit.idempotency_key] = result
            return result

    def redeem(self, reward: int, *, customer: str, idempotency_key: str) -> Redemption:
        self._wait()
        with self._lock:
            first = self._answers.get(idempotency_key)
            if isinstance(first, Redemption):
                return first
            found = next((r for r in REWARDS if r[0] == reward), None)
            if found is None:
                raise HubError(HubReason.OFFLINE, "no such reward")
            rid, business, name, cost = found
            key = (customer, business)
            balance = self._points.get(key, 0)
            if balance < cost:
                raise HubError(
                    HubReason.INSUFFICIENT_POINTS, "not enough points", balance=balance, cost=cost
                )
            self._points[key] = balance - cost
            serial = self._next_serial
            self._next_serial += 1
            coupon = Coupon(
                f"{rid + 20}:{serial}", rid + 20, name, business,
                code=f"V1DEMO{rid + 20}S{serial}REWARD", serial=f"{rid + 20}-{serial}-7",
                valid_until=self.clock.now() + timedelta(days=30),
            )
            self._coupons.setdefault(customer, []).append(coupon)
            result = Redemption(coupon, self._points[key])
            self._answers[idempotency_key] = result
            return result

    def catalog(self, business: int) -> Catalog:
        self._wait()
        return Catalog(
            business,
            tuple(Category(cid, name) for cid, name in CATEGORIES),
            tuple(
                Item(iid, cat, name, Decimal(price), image=_picture(iid, name),
                     available=iid not in UNAVAILABLE)
                for iid, cat, name, price in ITEMS
            ),
        )

    def submit_check(
        self,
        *,
        customer: str | None,
        business: int,
        lines: list[OrderLine],
        idempotency_key: str,
        device: str,
    ) -> CheckResult:
        self._wait()
        with self._lock:
            first = self._answers.get(idempotency_key)
            if isinstance(first, CheckResult):
                return first
            prices = {iid: Decimal(price) for iid, _, _, price in ITEMS}
            bad = [ln.item for ln in lines if ln.item not in prices or ln.item in UNAVAILABLE]
            if bad:
                raise HubError(HubReason.UNAVAILABLE, "items unavailable", items=bad)
            self._next_check += 1
            total = sum((prices[ln.item] * ln.qty for ln in lines), Decimal("0.00"))
            number = f"A-{self._next_check:03d}"
            result = CheckResult(self._next_check, number, total, "UAH", f"CHECK:{number}")
            self.checks.append((customer, list(lines)))
            self._answers[idempotency_key] = result
            return result

    def ping(self) -> bool:
        return not self.offline

    def with_points(self, customer: str, business: int, points: int) -> None:
        """Set a balance (screenshot tour and tests: a customer who cannot afford a reward)."""
        with self._lock:
            self._points[(customer, business)] = points


__all__ = ["DEMO_CARD", "DEMO_LOSE_CODE", "DEMO_PHONE", "DEMO_WIN_CODE", "DemoHub"]
