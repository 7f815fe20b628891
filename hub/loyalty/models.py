"""Loyalty tables (issue 5), on the hub's declarative base so one Alembic history covers both.

Identity: a customer row holds no readable phone number: ``phone_hash`` (HMAC-SHA256 under the
hub's ``phone_key``) finds a number, ``phone_enc`` (AES-GCM under the same secret) is what a
notification adapter decrypts to send an SMS, and ``masked`` is for screens.

Money: ``Numeric(12, 2)`` columns, read back as :class:`~decimal.Decimal`. Points: integers.

The ledger is append-only: nothing updates or deletes a ``loyalty_ledger`` row; a correction is a
new row. ``loyalty_members`` materialises the points and prepaid balances per (business,
customer) with a ``version``; its row is also the lock that serialises a customer's writes.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.models import Base, BigId

Money = Numeric(12, 2, asdecimal=True)


class Business(Base):
    """A business of the venue (cafe, shop); each keeps its own accounts per customer."""

    __tablename__ = "loyalty_businesses"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3), default="UAH")
    created_at: Mapped[datetime]


class Rules(Base):
    """A business's earning rules (configuration, edited in place; the ledger keeps the effects)."""

    __tablename__ = "loyalty_rules"

    business_id: Mapped[int] = mapped_column(ForeignKey("loyalty_businesses.id"),
                                             primary_key=True)
    visit_points: Mapped[int] = mapped_column(Integer, default=0)
    visit_cooldown_s: Mapped[int] = mapped_column(Integer, default=43200)
    welcome_bonus: Mapped[int] = mapped_column(Integer, default=0)
    welcome_bonus_ttl_s: Mapped[int | None] = mapped_column(Integer)
    points_per_amount: Mapped[Decimal] = mapped_column(Numeric(12, 4, asdecimal=True),
                                                       default=Decimal(0))
    """Points per one unit of the currency on a paid check (``0.1``: 1 point per 10 UAH)."""
    beacon_min_dwell_s: Mapped[int] = mapped_column(Integer, default=300)
    beacon_visits: Mapped[bool] = mapped_column(Boolean, default=False)
    """Credit a visit from beacon presence (the venue's scanners) as well as from the kiosk."""
    changed_at: Mapped[datetime]


class Customer(Base):
    __tablename__ = "loyalty_customers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    """Opaque ``c_...``; the only customer identifier that leaves the hub."""
    phone_hash: Mapped[str] = mapped_column(String(64), unique=True)
    phone_enc: Mapped[bytes] = mapped_column(LargeBinary)
    masked: Mapped[str] = mapped_column(String(40))
    consent_at: Mapped[datetime]
    consent_device: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class Card(Base):
    """A digital card: an opaque token (only its hash is stored) that identifies a customer."""

    __tablename__ = "loyalty_cards"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("loyalty_customers.id"), index=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Member(Base):
    """A customer at one business: materialised balances, the visit cooldown, and the row lock."""

    __tablename__ = "loyalty_members"

    business_id: Mapped[int] = mapped_column(ForeignKey("loyalty_businesses.id"),
                                             primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("loyalty_customers.id"),
                                             primary_key=True)
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    prepaid: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    last_visit_at: Mapped[datetime | None]
    joined_at: Mapped[datetime]


class LedgerEntry(Base):
    """One change of one account; never updated, never deleted."""

    __tablename__ = "loyalty_ledger"
    __table_args__ = (
        UniqueConstraint("business_id", "idempotency_key", name="uq_ledger_business_key"),
        Index("ix_ledger_account", "business_id", "customer_id", "account"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("loyalty_businesses.id"))
    customer_id: Mapped[str] = mapped_column(ForeignKey("loyalty_customers.id"))
    account: Mapped[str] = mapped_column(String(16))
    """``points``, ``bonus_points`` or ``prepaid``."""
    delta: Mapped[int] = mapped_column(BigInteger, default=0)
    amount: Mapped[Decimal | None] = mapped_column(Money)
    """Money moved, for ``prepaid`` (``delta`` stays 0)."""
    reason: Mapped[str] = mapped_column(String(32))
    ref: Mapped[str | None] = mapped_column(String(80))
    source_device: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(160))
    at: Mapped[datetime]
    expires_at: Mapped[datetime | None]


class Operation(Base):
    """Every loyalty write request by its idempotency key, with the answer given the first time."""

    __tablename__ = "loyalty_ops"
    __table_args__ = (
        UniqueConstraint("business_id", "op", "idempotency_key", name="uq_ops_business_op_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    business_id: Mapped[int] = mapped_column(BigInteger)
    op: Mapped[str] = mapped_column(String(16))
    idempotency_key: Mapped[str] = mapped_column(String(160))
    customer_id: Mapped[str | None] = mapped_column(String(32))
    device: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
    answer: Mapped[dict[str, Any]]


class Reward(Base):
    """A reward that costs points and is delivered as a coupon of a series (issue 4)."""

    __tablename__ = "loyalty_rewards"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("loyalty_businesses.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    cost: Mapped[int] = mapped_column(Integer)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id"))
    image: Mapped[str | None] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class Category(Base):
    __tablename__ = "loyalty_categories"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("loyalty_businesses.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)


class Item(Base):
    __tablename__ = "loyalty_items"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("loyalty_businesses.id"), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("loyalty_categories.id"))
    name: Mapped[str] = mapped_column(String(200))
    price: Mapped[Decimal] = mapped_column(Money)
    image: Mapped[str | None] = mapped_column(String(120))
    available: Mapped[bool] = mapped_column(Boolean, default=True)


class Media(Base):
    """An uploaded image, served at ``/api/v1/media/{name}``."""

    __tablename__ = "loyalty_media"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class Check(Base):
    """An order from a kiosk, queued for the register; closing it paid accrues points once."""

    __tablename__ = "loyalty_checks"
    __table_args__ = (
        UniqueConstraint("business_id", "idempotency_key", name="uq_checks_business_key"),
        Index("ix_checks_queue", "business_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("loyalty_businesses.id"))
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("loyalty_customers.id"))
    device: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(160))
    number: Mapped[str] = mapped_column(String(16))
    lines: Mapped[list[Any]]
    total: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))
    """``queued``, ``paid`` (closed, paid) or ``cancelled`` (closed unpaid)."""
    points: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(64))


class Install(Base):
    """An install of the venue app: its secret derives the rotating iBeacon pair it advertises
    (:mod:`venue.beacon_ids`); the hub maps a pair back to the install's customer."""

    __tablename__ = "loyalty_installs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    """Increasing, so a resolver adds only the installs it has not seen yet."""
    customer_id: Mapped[str] = mapped_column(ForeignKey("loyalty_customers.id"), index=True)
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
