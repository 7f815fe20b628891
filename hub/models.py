"""The hub's tables as SQLAlchemy 2 typed models.

One ``codes`` row per ticket, whatever its code mode: generated codes (signed), holders' copies of a
shared code, the shared code itself (``ref = "shared:{series}"``, which counts the series'
capacity), and imported codes (status ``imported`` until issued). Redemption state lives on that
row, so one row lock (or SQLite's one writer) makes two admissions of one ticket impossible.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no offset: we add it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


BigId = BigInteger().with_variant(Integer(), "sqlite")
"""64-bit ids on PostgreSQL; SQLite's INTEGER PRIMARY KEY is already 64-bit and autoincrements."""


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    device: Mapped[str] = mapped_column(String(64))
    allow_serial_entry: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Setting(Base):
    """Small hub-wide values, e.g. the salt of imported-code hashes."""

    __tablename__ = "hub_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class SigningKey(Base):
    """An Ed25519 key; ``id`` is the key id in the codes it signed (16 bits)."""

    __tablename__ = "signing_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    private_key: Mapped[bytes] = mapped_column(LargeBinary)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]


class Series(Base):
    """A cliché from which tickets or coupons are issued."""

    __tablename__ = "series"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    code_mode: Mapped[str] = mapped_column(String(16))
    code_visibility: Mapped[str] = mapped_column(String(16))
    entry_rule: Mapped[str] = mapped_column(String(16))
    issue_limit: Mapped[int] = mapped_column(Integer)
    entries_per_code: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[datetime | None]
    valid_until: Mapped[datetime | None]
    shared_code: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    issued_count: Mapped[int] = mapped_column(Integer, default=0)
    imported_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    changed_at: Mapped[datetime] = mapped_column(index=True)


class Code(Base):
    """One ticket (or the shared code of a series) and its redemption state."""

    __tablename__ = "codes"
    __table_args__ = (
        UniqueConstraint("series_id", "serial", name="uq_codes_series_serial"),
        Index("ix_codes_hash", "code_hash"),
        Index("ix_codes_changed", "changed_at"),
        Index("ix_codes_customer", "customer_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id"))
    serial: Mapped[int] = mapped_column(BigInteger)
    ref: Mapped[str] = mapped_column(String(80), unique=True)
    code_text: Mapped[str | None] = mapped_column(Text)
    code_hash: Mapped[str | None] = mapped_column(String(32))
    key_id: Mapped[int | None] = mapped_column(Integer)
    customer_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    entries_used: Mapped[int] = mapped_column(Integer, default=0)
    inside: Mapped[bool] = mapped_column(Boolean, default=False)
    first_used_at: Mapped[datetime | None]
    first_gate: Mapped[str | None] = mapped_column(String(64))
    last_used_at: Mapped[datetime | None]
    last_gate: Mapped[str | None] = mapped_column(String(64))
    issued_at: Mapped[datetime | None]
    changed_at: Mapped[datetime]


class CodeEvent(Base):
    """A code's status history: issued, delivered, redeemed, annulled, revoked, blocked, ..."""

    __tablename__ = "code_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code_id: Mapped[int] = mapped_column(ForeignKey("codes.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
    detail: Mapped[str | None] = mapped_column(String(200))


class Redemption(Base):
    """Every attempt, admitted or not, with its answer (returned again for a repeated nonce)."""

    __tablename__ = "redemptions"
    __table_args__ = (
        Index("ix_redemptions_code", "code_id"),
        Index("ix_redemptions_series_time", "series_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    code_id: Mapped[int | None] = mapped_column(ForeignKey("codes.id"))
    ref: Mapped[str | None] = mapped_column(String(80))
    series_id: Mapped[int | None] = mapped_column(BigInteger)
    gate: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(4))
    mode: Mapped[str] = mapped_column(String(8))
    offline: Mapped[bool] = mapped_column(Boolean, default=False)
    result: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(32))
    counted: Mapped[bool] = mapped_column(Boolean, default=False)
    """True when this admission used an entry (so annulling it gives the entry back)."""
    was_inside: Mapped[bool] = mapped_column(Boolean, default=False)
    scanned_at: Mapped[datetime]
    received_at: Mapped[datetime]
    annulled_at: Mapped[datetime | None]
    answer: Mapped[dict[str, Any]]


class DeviceEvent(Base):
    """An MQTT event as received, stored once by its id."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_type_received", "type", "received_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    device: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(64))
    ts: Mapped[datetime]
    received_at: Mapped[datetime]
    data: Mapped[dict[str, Any]]


class Conflict(Base):
    """One ticket admitted offline where it was already used: for operators to look at."""

    __tablename__ = "conflicts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ref: Mapped[str] = mapped_column(String(80), index=True)
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    gate: Mapped[str] = mapped_column(String(64))
    first_gate: Mapped[str | None] = mapped_column(String(64))
    gates: Mapped[list[Any]]
    scanned_at: Mapped[datetime]
    detected_at: Mapped[datetime]
    event_id: Mapped[str | None] = mapped_column(String(64))


class Device(Base):
    """A device's last known status, from its retained ``status`` topic and its events."""

    __tablename__ = "devices"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    """``site/role/device``."""
    site: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    device: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="unknown")
    version: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[str | None] = mapped_column(String(40))
    status_at: Mapped[datetime | None]
    last_seen: Mapped[datetime | None]
