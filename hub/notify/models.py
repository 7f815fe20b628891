"""Tables of the notification queue.

A message row says *what* is to be sent to *which customer* by which channel; the address itself
is looked up (and decrypted) only when it is sent, so the queue holds no readable phone number or
email. ``recipient_masked`` is what the admin listing shows. Every delivery attempt is a row of
``notify_attempts``; a message ends ``sent``, ``failed`` (after ``max_attempts``) or
``no_channel`` (nothing could carry it) and is never deleted; the text of a message that
carries a secret (a wallet link, a one-time code: ``queue.SENSITIVE_KINDS``) is erased then.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.models import Base, BigId


class Message(Base):
    """One notification to one customer, queued in the transaction of what it announces."""

    __tablename__ = "notify_messages"
    __table_args__ = (Index("ix_notify_due", "status", "next_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    customer_id: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    """What it is about (``coupon``, ``campaign``, ``otp``, ...), for the listing."""
    channel: Mapped[str] = mapped_column(String(8))
    """``email``, ``sms`` or ``""`` (no channel)."""
    recipient_masked: Mapped[str] = mapped_column(String(80))
    subject: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    """``pending``, ``sent``, ``failed`` or ``no_channel``."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime]
    """When the sender may try (again); a try in progress pushes it one lease ahead."""
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class Attachment(Base):
    """A file sent with a message (e.g. the coupon's QR as PNG)."""

    __tablename__ = "notify_attachments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("notify_messages.id"), index=True)
    filename: Mapped[str] = mapped_column(String(120))
    content_type: Mapped[str] = mapped_column(String(80))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Attempt(Base):
    """One delivery attempt and its outcome (the error text holds no address)."""

    __tablename__ = "notify_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("notify_messages.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]
    ok: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(String(300))
