"""Tables of the wallet: one-time codes, profiles, promotions, shares, referrals and triggers.

Wallet links themselves are not stored: a link is an HMAC-signed token (:mod:`hub.wallet.links`);
``wallet_profiles.links_since`` revokes every link of a customer issued before it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.models import Base, BigId


class WalletOtp(Base):
    """A one-time code sent to a phone number; only its HMAC is kept."""

    __tablename__ = "wallet_otps"
    __table_args__ = (Index("ix_wallet_otps_phone", "phone_hash", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    phone_hash: Mapped[str] = mapped_column(String(64))
    code_hash: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str | None] = mapped_column(String(32))
    """``None`` for a number that is no customer (the row exists so the answer is the same)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class WalletProfile(Base):
    """What the wallet knows of a customer beyond the loyalty tables."""

    __tablename__ = "wallet_profiles"

    customer_id: Mapped[str] = mapped_column(ForeignKey("loyalty_customers.id"),
                                             primary_key=True)
    birthday_month: Mapped[int | None] = mapped_column(Integer)
    birthday_day: Mapped[int | None] = mapped_column(Integer)
    referral_code: Mapped[str] = mapped_column(String(16), unique=True)
    links_since: Mapped[datetime | None]
    """Links issued before this are refused (a customer's "log out everywhere")."""
    created_at: Mapped[datetime]


class WalletRules(Base):
    """A business's wallet rules: birthday reward, welcome and win-back messages, referrals."""

    __tablename__ = "wallet_rules"

    business_id: Mapped[int] = mapped_column(ForeignKey("loyalty_businesses.id"),
                                             primary_key=True)
    birthday_points: Mapped[int] = mapped_column(Integer, default=0)
    birthday_series: Mapped[int | None] = mapped_column(ForeignKey("series.id"))
    birthday_text: Mapped[str] = mapped_column(Text, default="")
    welcome_text: Mapped[str] = mapped_column(Text, default="")
    winback_days: Mapped[int] = mapped_column(Integer, default=0)
    winback_text: Mapped[str] = mapped_column(Text, default="")
    referrer_points: Mapped[int] = mapped_column(Integer, default=0)
    referee_points: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[datetime]


class TriggerRun(Base):
    """A trigger done for a customer and period: the unique key is what makes it once."""

    __tablename__ = "wallet_trigger_runs"
    __table_args__ = (
        UniqueConstraint("business_id", "customer_id", "kind", "period",
                         name="uq_wallet_trigger_once"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    business_id: Mapped[int] = mapped_column(BigInteger)
    customer_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    """``birthday``, ``welcome`` or ``winback``."""
    period: Mapped[str] = mapped_column(String(40))
    """``2026`` for a birthday, the last visit's time for a win-back, ``once`` for welcome."""
    result: Mapped[dict[str, Any]]
    at: Mapped[datetime]


class Promotion(Base):
    """News of a business, optionally with a coupon (free or for points)."""

    __tablename__ = "wallet_promotions"
    __table_args__ = (Index("ix_wallet_promotions_business", "business_id", "starts_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("loyalty_businesses.id"))
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text, default="")
    image: Mapped[str | None] = mapped_column(String(120))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id"))
    cost: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    changed_at: Mapped[datetime]


class PromotionClaim(Base):
    """A customer's claim of a promotion's coupon: unique per (promotion, customer)."""

    __tablename__ = "wallet_promotion_claims"
    __table_args__ = (
        UniqueConstraint("promotion_id", "customer_id", name="uq_wallet_claim_once"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    promotion_id: Mapped[int] = mapped_column(ForeignKey("wallet_promotions.id"))
    customer_id: Mapped[str] = mapped_column(ForeignKey("loyalty_customers.id"))
    idempotency_key: Mapped[str] = mapped_column(String(160))
    ref: Mapped[str] = mapped_column(String(80))
    device: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    answer: Mapped[dict[str, Any]]


class SeriesSharing(Base):
    """Whether the coupons of a series may be shared with a friend (off unless set)."""

    __tablename__ = "wallet_series_sharing"

    series_id: Mapped[int] = mapped_column(ForeignKey("series.id"), primary_key=True)
    shareable: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_at: Mapped[datetime]


class Share(Base):
    """A coupon offered to a friend; accepting it moves the coupon (a new code for the friend,
    the sharer's code revoked)."""

    __tablename__ = "wallet_shares"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    code_id: Mapped[int] = mapped_column(ForeignKey("codes.id"), index=True)
    from_customer: Mapped[str] = mapped_column(ForeignKey("loyalty_customers.id"))
    to_customer: Mapped[str | None] = mapped_column(String(32))
    new_ref: Mapped[str | None] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16))
    """``open``, ``accepted`` or ``void`` (the coupon was used or moved otherwise)."""
    created_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]


class Referral(Base):
    """A referred customer (once ever) and who referred them."""

    __tablename__ = "wallet_referrals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    referee: Mapped[str] = mapped_column(ForeignKey("loyalty_customers.id"), unique=True)
    referrer: Mapped[str] = mapped_column(ForeignKey("loyalty_customers.id"), index=True)
    credited: Mapped[dict[str, Any]]
    """Points credited per business: ``{"1": {"referrer": 50, "referee": 20}}``."""
    at: Mapped[datetime]
