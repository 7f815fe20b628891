"""What the kiosk learns from the hub, as frozen dataclasses, and the interface that delivers it.

The shapes follow docs/contracts.md ("Loyalty and self-checkout"). Money stays a
:class:`~decimal.Decimal` from the wire's decimal string to the screen, so a total is never off
by a float's rounding. :class:`HubClient` is the one interface the presenter talks to: the HTTP
client (:mod:`kiosk.hub_client`) and the demo data source (:mod:`kiosk.demo`) both implement it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from venue.errors import VenueError


class HubReason(StrEnum):
    """Why a hub call did not give the kiosk what it asked for (a closed list)."""

    UNKNOWN_CUSTOMER = "unknown_customer"
    INVALID_PHONE = "invalid_phone"
    RATE_LIMITED = "rate_limited"
    INSUFFICIENT_POINTS = "insufficient_points"
    UNAVAILABLE = "unavailable"
    """An item of an order is not available any more."""
    OFFLINE = "offline"
    """No answer in time, a connection error, a 5xx, or an answer we cannot read."""
    UNKNOWN_CODE = "unknown_code"
    """A lottery code the hub does not know (404 on play)."""
    ALREADY_PLAYED = "already_played"
    """A lottery code someone played before."""
    ALREADY_CLAIMED = "already_claimed"
    """This customer has this promotion's coupon already."""
    NO_COUPON = "no_coupon"
    """The promotion carries no coupon to claim."""
    ENDED = "ended"
    """The promotion or the lottery is over."""
    NO_PRIZES = "no_prizes"
    """Every prize of the lottery is given out (the code stays unplayed)."""


class HubError(VenueError, RuntimeError):
    """A hub call failed for a :class:`HubReason`; ``detail`` carries what the hub said."""

    def __init__(self, reason: HubReason, message: str = "", **detail: object) -> None:
        super().__init__(message or reason.value)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Balance:
    """One business's pocket of the customer's purse."""

    business: int
    business_name: str
    points: int
    bonus_points: int = 0
    prepaid: Decimal = Decimal("0.00")
    currency: str = "UAH"


@dataclass(frozen=True, slots=True)
class Coupon:
    """A coupon in the customer's wallet; ``code``/``serial`` are ``None`` where the series
    shows its control code only once redeemed."""

    ref: str
    series: int
    name: str
    business: int
    status: str = "issued"
    code: str | None = None
    serial: str | None = None
    valid_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Reward:
    """An entry of the rewards catalog."""

    id: int
    business: int
    name: str
    cost: int
    affordable: bool
    image: str | None = None


@dataclass(frozen=True, slots=True)
class Summary:
    """Who the customer is and what they hold; only ever a masked phone."""

    customer: str
    masked_phone: str
    new: bool = False
    balances: tuple[Balance, ...] = ()
    coupons: tuple[Coupon, ...] = ()
    rewards: tuple[Reward, ...] = ()

    def balance(self, business: int) -> Balance | None:
        """The pocket of ``business``, if the customer has one."""
        return next((b for b in self.balances if b.business == business), None)


@dataclass(frozen=True, slots=True)
class VisitResult:
    """The answer to a visit credit: credited, or why not (``cooldown``, ``no_rule``)."""

    business: int
    credited: bool
    reason: str
    points: int = 0
    balance: int | None = None
    next_at: datetime | None = None
    queued: bool = False
    """True when the hub could not be reached and the credit waits in the durable queue."""


@dataclass(frozen=True, slots=True)
class Redemption:
    """A reward bought with points: the issued coupon and the balance left."""

    coupon: Coupon
    balance: int


@dataclass(frozen=True, slots=True)
class Category:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class Item:
    """A catalog item; ``image`` is a hub path (``/api/v1/media/...``) or ``None``."""

    id: int
    category: int
    name: str
    price: Decimal
    currency: str = "UAH"
    image: str | None = None
    available: bool = True


@dataclass(frozen=True, slots=True)
class Catalog:
    business: int
    categories: tuple[Category, ...] = ()
    items: tuple[Item, ...] = ()


@dataclass(frozen=True, slots=True)
class OrderLine:
    item: int
    qty: int


@dataclass(frozen=True, slots=True)
class CheckResult:
    """An order queued for the register: its number and the QR the cashier scans."""

    check: int
    number: str
    total: Decimal
    currency: str
    qr: str
    status: str = "queued"


@dataclass(frozen=True, slots=True)
class VisitRequest:
    """One visit credit, exactly as it is sent (and re-sent from the queue).

    ``idempotency_key`` is made once, when the visit happens, so every retry is the same credit.
    """

    customer: str
    business: int
    idempotency_key: str
    at: datetime
    device: str
    source: str = "kiosk"
    attempts: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Lottery:
    """A lottery running now at one of this kiosk's businesses."""

    id: int
    business: int
    name: str
    text: str = ""


@dataclass(frozen=True, slots=True)
class LotteryPlay:
    """The outcome of playing a code: a prize with a coupon, a prize without one, or nothing.

    ``prize`` is ``None`` when the hub said there was no prize; ``coupon`` is ``None`` when the
    prize is not a coupon ("Try again").
    """

    lottery: int
    lottery_name: str
    prize: str | None
    coupon: Coupon | None = None


@dataclass(frozen=True, slots=True)
class PromoCoupon:
    """The coupon a promotion gives away (``cost`` points, 0 for free)."""

    series: int
    name: str
    cost: int = 0


@dataclass(frozen=True, slots=True)
class Promotion:
    """A promotion running now; shown on Attract, claimable on Home when it has a coupon."""

    id: int
    business: int
    title: str
    text: str = ""
    image: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    coupon: PromoCoupon | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    """A promotion's coupon given to the customer and the balance left."""

    coupon: Coupon
    balance: int | None = None


class HubClient(Protocol):
    """What the kiosk asks the hub. Every method raises :class:`HubError` on failure."""

    def identify(
        self, *, phone: str | None = None, card: str | None = None, businesses: list[int]
    ) -> Summary: ...

    def register(self, *, phone: str, businesses: list[int]) -> Summary: ...

    def credit_visit(self, visit: VisitRequest) -> VisitResult: ...

    def redeem(self, reward: int, *, customer: str, idempotency_key: str) -> Redemption: ...

    def catalog(self, business: int) -> Catalog: ...

    def submit_check(
        self,
        *,
        customer: str | None,
        business: int,
        lines: list[OrderLine],
        idempotency_key: str,
        device: str,
    ) -> CheckResult: ...

    def media(self, path: str) -> bytes | None: ...

    def lotteries(self, businesses: list[int]) -> tuple[Lottery, ...]: ...

    def play_lottery(self, *, customer: str, code: str, idempotency_key: str) -> LotteryPlay: ...

    def promotions(self, businesses: list[int]) -> tuple[Promotion, ...]: ...

    def claim_promotion(self, promotion: int, *, customer: str, idempotency_key: str) -> Claim: ...

    def ping(self) -> bool: ...
