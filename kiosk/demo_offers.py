"""The demo café's lottery, promotions and pictures (a mixin of :class:`kiosk.demo.DemoHub`).

Same rules as the hub's contract ("Lottery and promotions" in docs/contracts.md): a code plays
once (``already_played`` for anyone after, the same idempotency key returns the first answer),
a promotion's coupon goes to a customer once (``already_claimed``), a coupon that costs points
needs them (``insufficient_points``). Pictures are drawn here (a plain PNG encoder), so the
screenshot tour shows item images without shipping any.
"""

from __future__ import annotations

import re
import struct
import threading
import zlib
from datetime import datetime, timedelta
from typing import Any

from kiosk.models import (
    Claim,
    Coupon,
    HubError,
    HubReason,
    Lottery,
    LotteryPlay,
    PromoCoupon,
    Promotion,
)

LOTTERY = Lottery(4, 1, "Spring draw", "Scan the QR from your receipt and win")
LOTTERY_CODE = re.compile(r"^SPRING-\d{4}$")
"""Valid demo codes: ``SPRING-`` and four digits; those ending in 7 win a free latte."""
DEMO_WIN_CODE = "SPRING-1007"
DEMO_LOSE_CODE = "SPRING-1234"

PROMOTIONS = (
    Promotion(3, 1, "Cookie on us", "Members get a free cookie with any coffee this week.",
              image="/api/v1/media/promo-cookie.png", coupon=PromoCoupon(31, "Free cookie", 0)),
    Promotion(2, 1, "Happy hour", "Every cappuccino half price, 15:00 to 17:00.",
              image="/api/v1/media/promo-happy-hour.png"),
    Promotion(1, 1, "Double points Monday", "A syrup of your choice for 40 points.",
              coupon=PromoCoupon(32, "Syrup shot", 40)),
)

PICTURE_COLOURS = {
    "latte": ((200, 160, 110), (245, 235, 220)),
    "espresso": ((90, 55, 35), (230, 200, 160)),
    "cappuccino": ((170, 120, 80), (250, 245, 235)),
    "flat-white": ((150, 110, 80), (245, 240, 230)),
    "green-tea": ((110, 150, 80), (220, 240, 200)),
    "croissant": ((215, 160, 70), (250, 225, 170)),
    "cinnamon-roll": ((180, 110, 60), (240, 210, 170)),
    "cheesecake": ((240, 220, 150), (250, 250, 240)),
    "promo-cookie": ((160, 100, 50), (250, 210, 120)),
    "promo-happy-hour": ((200, 90, 60), (250, 200, 120)),
}


def demo_png(name: str, size: int = 96) -> bytes:
    """A small PNG: a round plate of ``name``'s colours on a soft background (deterministic)."""
    outer, inner = PICTURE_COLOURS.get(name, ((120, 120, 140), (220, 220, 230)))
    background = (250, 246, 240)
    rows = []
    c = (size - 1) / 2
    for y in range(size):
        row = bytearray(b"\x00")  # filter: none
        for x in range(size):
            d2 = (x - c) ** 2 + (y - c) ** 2
            if d2 <= (0.28 * size) ** 2:
                px = inner
            elif d2 <= (0.45 * size) ** 2:
                px = outer
            else:
                px = background
            row += bytes(px)
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"".join(rows), 6)) + chunk(b"IEND", b""))


class DemoOffers:
    """Lottery, promotions and media for the demo hub; expects its lock, points and coupons."""

    _lock: threading.Lock
    _points: dict[tuple[str, int], int]
    _coupons: dict[str, list[Coupon]]
    _answers: dict[str, object]
    _next_serial: int
    clock: Any

    def _wait(self) -> None: ...

    def _init_offers(self) -> None:
        self._played: set[str] = set()
        self._claimed: set[tuple[str, int]] = set()
        self.promotion_list: list[Promotion] = list(PROMOTIONS)
        self.lottery_list: list[Lottery] = [LOTTERY]

    def _issue(self, customer: str, series: int, name: str, business: int) -> Coupon:
        serial = self._next_serial
        self._next_serial += 1
        coupon = Coupon(f"{series}:{serial}", series, name, business,
                        code=f"V1DEMO{series}S{serial}GIFT", serial=f"{series}-{serial}-5",
                        valid_until=self._now() + timedelta(days=14))
        self._coupons.setdefault(customer, []).append(coupon)
        return coupon

    def _now(self) -> datetime:
        now: datetime = self.clock.now()
        return now

    def lotteries(self, businesses: list[int]) -> tuple[Lottery, ...]:
        self._wait()
        return tuple(x for x in self.lottery_list if x.business in businesses)

    def play_lottery(self, *, customer: str, code: str, idempotency_key: str) -> LotteryPlay:
        self._wait()
        with self._lock:
            first = self._answers.get(idempotency_key)
            if isinstance(first, LotteryPlay):
                return first
            code = code.strip().upper()
            if not LOTTERY_CODE.match(code) or not self.lottery_list:
                raise HubError(HubReason.UNKNOWN_CODE, "unknown lottery code")
            if code in self._played:
                raise HubError(HubReason.ALREADY_PLAYED, "already played")
            self._played.add(code)
            lottery = self.lottery_list[0]
            if code.endswith("7"):
                coupon = self._issue(customer, 41, "Free latte", lottery.business)
                result = LotteryPlay(lottery.id, lottery.name, "Free latte", coupon)
            else:
                result = LotteryPlay(lottery.id, lottery.name, None, None)
            self._answers[idempotency_key] = result
            return result

    def promotions(self, businesses: list[int]) -> tuple[Promotion, ...]:
        self._wait()
        return tuple(x for x in self.promotion_list if x.business in businesses)

    def claim_promotion(self, promotion: int, *, customer: str, idempotency_key: str) -> Claim:
        self._wait()
        with self._lock:
            first = self._answers.get(idempotency_key)
            if isinstance(first, Claim):
                return first
            promo = next((x for x in self.promotion_list if x.id == promotion), None)
            if promo is None:
                raise HubError(HubReason.ENDED, "no such promotion")
            if promo.coupon is None:
                raise HubError(HubReason.NO_COUPON, "no coupon")
            if (customer, promotion) in self._claimed:
                raise HubError(HubReason.ALREADY_CLAIMED, "already claimed")
            key = (customer, promo.business)
            balance = self._points.get(key, 0)
            if balance < promo.coupon.cost:
                raise HubError(HubReason.INSUFFICIENT_POINTS, "not enough points",
                               balance=balance, cost=promo.coupon.cost)
            self._points[key] = balance - promo.coupon.cost
            self._claimed.add((customer, promotion))
            coupon = self._issue(customer, promo.coupon.series, promo.coupon.name, promo.business)
            result = Claim(coupon, self._points[key])
            self._answers[idempotency_key] = result
            return result

    def media(self, path: str) -> bytes | None:
        prefix = "/api/v1/media/"
        if not path.startswith(prefix) or not path.endswith(".png"):
            return None
        try:
            self._wait()
        except HubError:
            return None
        name = path[len(prefix):-4]
        return demo_png(name) if name in PICTURE_COLOURS else None
