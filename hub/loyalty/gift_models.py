"""Tables of gifts and passes: lottery, gift sets, one-time gift codes, catalog items bound to a
series (tickets sold through the catalog), what a coupon is worth on a check, and what a closed
check paid and issued.

They sit beside the loyalty tables without changing them: a check's coupons and payment are a
row of ``loyalty_check_extras`` keyed by the check, an item's series a row of
``loyalty_item_series`` keyed by the item.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.loyalty.models import Money
from hub.models import Base, BigId


class Lottery(Base):
    """A business's lottery: codes (printed on receipts, posters) each draw one prize once."""

    __tablename__ = "loyalty_lotteries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("loyalty_businesses.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(String(500), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class Prize(Base):
    """One line of a lottery's prize list: a coupon series or nothing ("Try again").

    ``remaining`` (``None``: unlimited) never goes below zero: a play takes one with a conditional
    ``UPDATE ... WHERE remaining > 0`` and the check constraint backs it.
    """

    __tablename__ = "loyalty_lottery_prizes"
    __table_args__ = (CheckConstraint("remaining >= 0", name="ck_prize_remaining"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    lottery_id: Mapped[int] = mapped_column(ForeignKey("loyalty_lotteries.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id"))
    weight: Mapped[int | None] = mapped_column(Integer)
    """Relative chance; ``None``: the prizes left (an urn of ``count`` tickets)."""
    remaining: Mapped[int | None] = mapped_column(Integer)


class GiftSet(Base):
    """One code that gives several coupons (one per series line)."""

    __tablename__ = "loyalty_giftsets"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("loyalty_businesses.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class GiftSetLine(Base):
    __tablename__ = "loyalty_giftset_lines"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    giftset_id: Mapped[int] = mapped_column(ForeignKey("loyalty_giftsets.id"), index=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id"))


class GiftCode(Base):
    """A one-time code of a lottery or a gift set; unique, so a code text belongs to one thing.

    ``used_at`` is set once, under the row's lock; ``answer`` is what its player was told.
    """

    __tablename__ = "loyalty_gift_codes"
    __table_args__ = (Index("ix_gift_codes_owner", "kind", "owner_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    """``lottery`` or ``giftset``."""
    owner_id: Mapped[int] = mapped_column(BigInteger)
    business_id: Mapped[int] = mapped_column(ForeignKey("loyalty_businesses.id"))
    code: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    customer_id: Mapped[str | None] = mapped_column(String(32))
    prize_id: Mapped[int | None] = mapped_column(BigInteger)
    answer: Mapped[dict[str, Any] | None]


class ItemSeries(Base):
    """A catalog item sold as a ticket/coupon/pass: each unit paid issues one code of the series."""

    __tablename__ = "loyalty_item_series"

    item_id: Mapped[int] = mapped_column(ForeignKey("loyalty_items.id"), primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id"))


class CouponBenefit(Base):
    """What a coupon of a series takes off a check: an amount, a percent, or one item free."""

    __tablename__ = "loyalty_coupon_benefits"

    series_id: Mapped[int] = mapped_column(ForeignKey("series.id"), primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("loyalty_businesses.id"))
    kind: Mapped[str] = mapped_column(String(16))
    """``amount``, ``percent`` or ``item``."""
    value: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("loyalty_items.id"))


class CheckExtra(Base):
    """A check's coupons to apply and, once closed, its discount, payment and amount paid."""

    __tablename__ = "loyalty_check_extras"

    check_id: Mapped[int] = mapped_column(ForeignKey("loyalty_checks.id"), primary_key=True)
    coupons: Mapped[list[Any]]
    discount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    payable: Mapped[Decimal | None] = mapped_column(Money)
    payment: Mapped[str | None] = mapped_column(String(16))
    """``prepaid`` or ``other`` (cash, card: outside the hub)."""


class TicketSale(Base):
    """One code issued for one unit of a paid check, by the register (outlet) that closed it."""

    __tablename__ = "loyalty_ticket_sales"
    __table_args__ = (Index("ix_ticket_sales_business_at", "business_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("loyalty_businesses.id"))
    check_id: Mapped[int] = mapped_column(ForeignKey("loyalty_checks.id"), index=True)
    item_id: Mapped[int] = mapped_column(BigInteger)
    series_id: Mapped[int] = mapped_column(BigInteger)
    ref: Mapped[str] = mapped_column(String(80), unique=True)
    outlet: Mapped[str] = mapped_column(String(64))
    price: Mapped[Decimal] = mapped_column(Money)
    at: Mapped[datetime]
