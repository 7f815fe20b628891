"""The kiosk's screens and the immutable view state the presenter hands to the views.

Views draw a :class:`ViewState` and nothing else, so whatever a screen shows can be asserted in a
unit test without Kivy. Texts are :class:`Msg` values holding an English msgid (marked with
:func:`N_` so ``xgettext``-style extraction finds it) and its parameters; the view translates them,
which keeps translations out of the logic. No field ever holds a clear phone number: the keypad's
digits stay inside the presenter, and the view gets them formatted and masked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from kiosk.models import (
    Catalog,
    CheckResult,
    Coupon,
    Item,
    Lottery,
    LotteryPlay,
    Promotion,
    Reward,
    Summary,
    VisitResult,
)

Tone = Literal["info", "error", "success"]


def N_(text: str) -> str:
    """Mark ``text`` for translation without translating it (the view does that)."""
    return text


class Screen(StrEnum):
    """Every screen of the kiosk."""

    ATTRACT = "attract"
    IDENTIFY = "identify"
    SCAN = "scan"
    CONSENT = "consent"
    HOME = "home"
    REWARDS = "rewards"
    CONFIRM = "confirm"
    COUPON = "coupon"
    LOTTERY = "lottery"
    """Scan or type a lottery code."""
    PRIZE = "prize"
    """What the code won (a coupon, or nothing this time)."""
    SHOP = "shop"
    ITEMS = "items"
    CART = "cart"
    ORDER = "order"
    DONE = "done"
    PIN = "pin"
    MAINTENANCE = "maintenance"


@dataclass(frozen=True, slots=True)
class Msg:
    """A text for the screen: an English msgid, its ``str.format`` parameters, and a tone."""

    text: str
    params: tuple[tuple[str, Any], ...] = ()
    tone: Tone = "info"

    @classmethod
    def of(cls, text: str, tone: Tone = "info", **params: Any) -> Msg:
        return cls(text, tuple(sorted(params.items())), tone)

    def render(self, translate: Any = None) -> str:
        """The text in the view's language (``translate`` is a gettext function)."""
        text = translate(self.text) if translate else self.text
        return text.format(**dict(self.params)) if self.params else text


@dataclass(frozen=True, slots=True)
class CartLine:
    item: Item
    qty: int

    @property
    def amount(self) -> Decimal:
        return self.item.price * self.qty


@dataclass(frozen=True, slots=True)
class MaintenanceInfo:
    """What a technician sees behind the PIN."""

    device: str
    version: str
    hub: str
    hub_state: str
    broker: str
    outbox_depth: int
    queued_credits: int


@dataclass(frozen=True)
class ViewState:
    """Everything a view needs to draw the current screen."""

    screen: Screen = Screen.ATTRACT
    lang: str = "en"
    languages: tuple[str, ...] = ("en",)
    offline: bool = False
    busy: Msg | None = None
    """A call to the hub is running; the view shows it and ignores taps."""
    message: Msg | None = None
    prefix: str = ""
    """The keypad's country prefix, e.g. ``+380``."""
    phone_display: str = ""
    """What was typed, formatted as you type and masked but for its last two digits."""
    can_submit: bool = False
    camera: bool = False
    summary: Summary | None = None
    visits: tuple[VisitResult, ...] = ()
    notes: tuple[Msg, ...] = ()
    """What happened on identification: the visit credited, or why not."""
    reward: Reward | None = None
    coupon: Coupon | None = None
    balance_after: int | None = None
    catalog: Catalog | None = None
    category: int | None = None
    cart: tuple[CartLine, ...] = ()
    order: CheckResult | None = None
    pin_display: str = ""
    maintenance: MaintenanceInfo | None = None
    promotions: tuple[Promotion, ...] = ()
    """Running now at this kiosk's businesses (Attract rotates them, Home offers claims)."""
    promo_index: int = 0
    """Which promotion Attract shows."""
    claimed: frozenset[int] = frozenset()
    """Promotions this customer has the coupon of (their claim entry is not offered)."""
    lotteries: tuple[Lottery, ...] = ()
    """Running now; Rewards offers "Play" when there is one."""
    code_display: str = ""
    """The lottery code typed so far."""
    play: LotteryPlay | None = None
    pictures: tuple[tuple[str, str], ...] = ()
    """Hub picture paths already on disk: ``(path, local file)``."""
    extra: dict[str, Any] = field(default_factory=dict)

    def picture(self, path: str | None) -> str | None:
        """The local file of a hub picture, when it has been fetched."""
        if path is None:
            return None
        return next((f for p, f in self.pictures if p == path), None)

    @property
    def promotion(self) -> Promotion | None:
        """The promotion Attract shows now."""
        if not self.promotions:
            return None
        return self.promotions[self.promo_index % len(self.promotions)]

    def claimable(self) -> tuple[Promotion, ...]:
        """Promotions with a coupon this customer does not hold yet."""
        held = {c.series for c in self.summary.coupons} if self.summary else set()
        return tuple(p for p in self.promotions if p.coupon is not None
                     and p.id not in self.claimed and p.coupon.series not in held)

    @property
    def cart_count(self) -> int:
        return sum(line.qty for line in self.cart)

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.cart), Decimal("0.00"))

    @property
    def currency(self) -> str:
        return self.cart[0].item.currency if self.cart else "UAH"

    def qty(self, item: int) -> int:
        return next((line.qty for line in self.cart if line.item.id == item), 0)

    def items(self) -> tuple[Item, ...]:
        """Items of the chosen category."""
        if self.catalog is None:
            return ()
        return tuple(i for i in self.catalog.items if i.category == self.category)
