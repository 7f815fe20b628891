"""Tables of the sales outlets: quotas, sales, invoices; a series' sales rules; transfers.

An outlet's sale is its own open item (one row per sale, never changed afterwards); an invoice
takes open items by inserting ``outlet_invoice_items`` rows, whose unique ``sale_id`` makes it
impossible to bill one sale twice. A sale paid at once (``paid_now``) is never an open item, nor
is a cancelled one (an ``outlet_sale_cancellations`` row, unique per sale).

``outlet_assignments.sold`` is moved only by a conditional ``UPDATE ... WHERE sold + :qty <=
quota``, so racing sales of one outlet never pass its quota on either backend.

A series' sales rules (limits, transfers, phone binding) live here keyed by series id, so the
series table stays as it is; a series without a row has no limits, allows transfers and is not
bound to a phone.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.loyalty.models import Money
from hub.models import Base, BigId


class SeriesSalesRules(Base):
    """Anti-scalping rules of one series (absent row: no limits, transferable, not bound)."""

    __tablename__ = "series_sales_rules"

    series_id: Mapped[int] = mapped_column(ForeignKey("series.id"), primary_key=True,
                                           autoincrement=False)
    per_order_limit: Mapped[int | None] = mapped_column(Integer)
    """Most tickets one sale may hold (``None``: no limit)."""
    per_customer_limit: Mapped[int | None] = mapped_column(Integer)
    """Most live (not revoked or annulled) tickets of the series one customer may hold."""
    transferable: Mapped[bool] = mapped_column(Boolean, default=True)
    bound_to_phone: Mapped[bool] = mapped_column(Boolean, default=False)
    """Gates and validators may ask the holder for the last digits of the ticket's phone."""
    changed_at: Mapped[datetime]


class Outlet(Base):
    """A partner that sells tickets; ``id`` is the device id of its ``outlet`` API token."""

    __tablename__ = "outlets"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class OutletAssignment(Base):
    """A series an outlet may sell: how many (``quota``), at what price, and how many it sold."""

    __tablename__ = "outlet_assignments"
    __table_args__ = (UniqueConstraint("outlet_id", "series_id", name="uq_outlet_series"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    outlet_id: Mapped[str] = mapped_column(ForeignKey("outlets.id"))
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id"))
    quota: Mapped[int] = mapped_column(Integer)
    sold: Mapped[int] = mapped_column(Integer, default=0)
    price: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime]
    changed_at: Mapped[datetime]


class OutletSale(Base):
    """One sale by an outlet: the codes issued and the amount owed (an open item unless paid)."""

    __tablename__ = "outlet_sales"
    __table_args__ = (
        UniqueConstraint("outlet_id", "idempotency_key", name="uq_outlet_sales_key"),
        Index("ix_outlet_sales_outlet_created", "outlet_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    outlet_id: Mapped[str] = mapped_column(ForeignKey("outlets.id"))
    series_id: Mapped[int] = mapped_column(BigInteger)
    idempotency_key: Mapped[str] = mapped_column(String(160))
    qty: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    customer_id: Mapped[str | None] = mapped_column(String(32))
    paid_now: Mapped[bool] = mapped_column(Boolean, default=False)
    refs: Mapped[list[Any]]
    """The refs of the codes issued by this sale."""
    created_at: Mapped[datetime]


class OutletSaleCancellation(Base):
    """A sale taken back before it was invoiced: its codes revoked, its quota given back."""

    __tablename__ = "outlet_sale_cancellations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("outlet_sales.id"), unique=True)
    at: Mapped[datetime]
    by_role: Mapped[str] = mapped_column(String(16))
    by_device: Mapped[str] = mapped_column(String(64))


class OutletInvoice(Base):
    """A collective invoice closing an outlet's period: the open items up to ``until``."""

    __tablename__ = "outlet_invoices"
    __table_args__ = (
        UniqueConstraint("outlet_id", "idempotency_key", name="uq_outlet_invoices_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    outlet_id: Mapped[str] = mapped_column(ForeignKey("outlets.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(160))
    until: Mapped[datetime]
    total: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    item_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))


class OutletInvoiceItem(Base):
    """A sale billed by an invoice; ``sale_id`` is unique, so no sale is billed twice."""

    __tablename__ = "outlet_invoice_items"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("outlet_invoices.id"), index=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("outlet_sales.id"), unique=True)
    amount: Mapped[Decimal] = mapped_column(Money)


class TicketTransfer(Base):
    """A ticket moved from one customer to another: the old code revoked, a new one issued."""

    __tablename__ = "ticket_transfers"
    __table_args__ = (Index("ix_ticket_transfers_series_at", "series_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    series_id: Mapped[int] = mapped_column(BigInteger)
    old_ref: Mapped[str] = mapped_column(String(80), unique=True)
    """A code is transferred at most once (it is revoked by its transfer)."""
    new_ref: Mapped[str] = mapped_column(String(80))
    from_customer: Mapped[str] = mapped_column(String(64))
    to_customer: Mapped[str] = mapped_column(String(64))
    by_role: Mapped[str] = mapped_column(String(16))
    by_device: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
