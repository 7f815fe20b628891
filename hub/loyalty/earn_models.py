"""Tables of more ways to earn: customer contacts and tags, issuance campaigns (by filter, on
checks, by a public QR) and fiscal-check claims.

Exactly-once lives in unique constraints, not in code paths: a campaign gives one coupon per
``(campaign, subject)`` (the subject is the customer, or ``check:{id}`` for check campaigns), and
a fiscal check is claimed once by its fiscal identity, whoever asks.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.loyalty.models import Money
from hub.models import Base, BigId


class Contact(Base):
    """A customer's email, encrypted like the phone number (AES-GCM under the phone secret)."""

    __tablename__ = "loyalty_contacts"

    customer_id: Mapped[str] = mapped_column(ForeignKey("loyalty_customers.id"),
                                             primary_key=True)
    email_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    email_masked: Mapped[str | None] = mapped_column(String(120))
    changed_at: Mapped[datetime]


class CustomerTag(Base):
    """A label an operator puts on a customer (``vip``), for campaign filters."""

    __tablename__ = "loyalty_customer_tags"

    customer_id: Mapped[str] = mapped_column(ForeignKey("loyalty_customers.id"),
                                             primary_key=True)
    tag: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)
    created_at: Mapped[datetime]


class Campaign(Base):
    """Coupons of a series given to customers: chosen by a filter (``filter``), on checks that
    match a rule (``check``), or to whoever scans a poster's code (``qr``)."""

    __tablename__ = "loyalty_campaigns"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("loyalty_businesses.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(8))
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id"))
    filter: Mapped[dict[str, Any]]
    """``filter``: ``{tags, visited_within_days, members_only}``; ``check``: ``{min_total,
    item}``; ``qr``: ``{}``."""
    notify: Mapped[bool] = mapped_column(Boolean, default=False)
    """Tell each customer who gets a coupon (email with its QR, or SMS)."""
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    valid_until: Mapped[datetime | None]
    created_at: Mapped[datetime]


class CampaignIssue(Base):
    """One coupon a campaign gave: once per (campaign, subject)."""

    __tablename__ = "loyalty_campaign_issues"
    __table_args__ = (
        UniqueConstraint("campaign_id", "subject", name="uq_campaign_issue_subject"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("loyalty_campaigns.id"))
    subject: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str] = mapped_column(ForeignKey("loyalty_customers.id"), index=True)
    code_ref: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime]


class FiscalClaim(Base):
    """Points claimed for a paper check by its fiscal QR; ``fiscal_key`` makes it once."""

    __tablename__ = "loyalty_fiscal_claims"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    fiscal_key: Mapped[str] = mapped_column(String(200), unique=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("loyalty_businesses.id"), index=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("loyalty_customers.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    points: Mapped[int] = mapped_column(Integer)
    device: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(160))
    claimed_at: Mapped[datetime]
