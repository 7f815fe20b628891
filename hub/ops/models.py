"""Tables of the operators' tools (the command log).

Every command an operator sends to a device through the hub is a row, written before it is
published and completed with the device's answer (or the timeout), so "who opened gate 3 at
21:14?" has an answer even when the device never replied.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.models import Base


class CommandRecord(Base):
    """One command: who sent it, to which device, what, and how it ended."""

    __tablename__ = "ops_commands"
    __table_args__ = (Index("ix_ops_commands_device_sent", "device", "sent_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """The command's id on the wire (UUIDv7); the device answers with it."""
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    """A retried request with the same key returns this row instead of commanding again."""
    by_role: Mapped[str] = mapped_column(String(16))
    by_device: Mapped[str] = mapped_column(String(64))
    site: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    device: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    args: Mapped[dict[str, Any]]
    sent_at: Mapped[datetime]
    result: Mapped[str] = mapped_column(String(8))
    """``pending`` while waiting, then ``ok``, ``error`` or ``timeout``."""
    reason: Mapped[str | None] = mapped_column(String(32))
    """Why it was not ``ok``: ``device_error``, ``offline``, ``no_answer``."""
    message: Mapped[str | None] = mapped_column(String(500))
    data: Mapped[dict[str, Any] | None]
    answered_at: Mapped[datetime | None]
