"""Outlets, their series quotas, and their sales.

A sale runs in one write transaction: the purchase limits (which lock the series row), then the
quota by a conditional ``UPDATE`` (no row changes when the quota would be passed: a 409 and
nothing written), then the codes through :func:`hub.issuing.issue`, then the sale row keyed by
``(outlet, idempotency_key)``. A repeated key returns the first sale with the same codes.
Every read an outlet makes is filtered by its own id (the token's device), so another outlet's
sale is a 404, exactly like a sale that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub import issuing
from hub.loyalty.errors import UnknownCustomer
from hub.loyalty.models import Customer
from hub.models import Code
from hub.outlets.errors import refusal
from hub.outlets.limits import check_purchase, raise_if_refused
from hub.outlets.models import (
    Outlet,
    OutletAssignment,
    OutletInvoiceItem,
    OutletSale,
    OutletSaleCancellation,
)
from hub.series import NotFound, SeriesError, get_series
from venue import codes
from venue.messages import rfc3339

MAX_QTY = 100


@dataclass(frozen=True, slots=True)
class SaleRequest:
    """What an outlet asks for; ``outlet_id`` comes from its token, never from the body."""

    outlet_id: str
    series_id: int
    qty: int
    idempotency_key: str
    paid_now: bool = False
    customer_id: str | None = None


def _t(when: datetime | None) -> str | None:
    return None if when is None else rfc3339(when)


def money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


# --- outlets and assignments (admin) ----------------------------------------------------------


def create_outlet(session: Session, outlet_id: str, name: str, *, now: datetime) -> Outlet:
    """Add an outlet (its API token is made separately with role ``outlet`` and this id)."""
    if session.get(Outlet, outlet_id) is not None:
        raise refusal("outlet_exists", f"outlet {outlet_id} exists already")
    row = Outlet(id=outlet_id, name=name.strip(), active=True, created_at=now)
    session.add(row)
    session.flush()
    return row


def get_outlet(session: Session, outlet_id: str, *, lock: bool = False) -> Outlet:
    """An outlet; ``lock`` serialises closes of one outlet (``FOR NO KEY UPDATE`` on PostgreSQL,
    which sales inserting rows that reference the outlet do not wait for)."""
    stmt = select(Outlet).where(Outlet.id == outlet_id)
    if lock:
        stmt = stmt.with_for_update(key_share=True)
    row = session.scalar(stmt)
    if row is None:
        raise NotFound(f"no outlet {outlet_id}")
    return row


def update_outlet(session: Session, outlet_id: str, *, name: str | None,
                  active: bool | None) -> Outlet:
    """Rename an outlet or switch its selling off and on."""
    row = get_outlet(session, outlet_id, lock=True)
    if name is not None:
        row.name = name.strip()
    if active is not None:
        row.active = active
    return row


def outlet_dict(row: Outlet) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "active": row.active,
            "created_at": _t(row.created_at)}


def assign(
    session: Session, outlet_id: str, series_id: int, *, quota: int, price: Decimal,
    currency: str, now: datetime,
) -> OutletAssignment:
    """Let an outlet sell a series (or change its quota and price; past sales keep theirs).

    Raises:
        NotFound: no such outlet or series.
        SeriesError: a quota below what the outlet has sold already (field ``quota``).
    """
    get_outlet(session, outlet_id)
    get_series(session, series_id)
    row = session.scalar(
        select(OutletAssignment).where(OutletAssignment.outlet_id == outlet_id,
                                       OutletAssignment.series_id == series_id)
        .with_for_update())
    if row is None:
        row = OutletAssignment(outlet_id=outlet_id, series_id=series_id, quota=quota, sold=0,
                               price=price, currency=currency, created_at=now, changed_at=now)
        session.add(row)
    else:
        if quota < row.sold:
            raise SeriesError(f"quota {quota} is below the {row.sold} tickets already sold",
                              "quota")
        row.quota, row.price, row.currency, row.changed_at = quota, price, currency, now
    session.flush()
    return row


def assignment_dict(row: OutletAssignment) -> dict[str, Any]:
    return {"outlet": row.outlet_id, "series": row.series_id, "quota": row.quota,
            "sold": row.sold, "left": max(0, row.quota - row.sold), "price": money(row.price),
            "currency": row.currency}


def assignments(session: Session, outlet_id: str) -> list[OutletAssignment]:
    return list(session.scalars(select(OutletAssignment)
                                .where(OutletAssignment.outlet_id == outlet_id)
                                .order_by(OutletAssignment.series_id)))


# --- selling ------------------------------------------------------------------------------------


def find_sale(session: Session, outlet_id: str, key: str) -> OutletSale | None:
    return session.scalar(select(OutletSale).where(OutletSale.outlet_id == outlet_id,
                                                   OutletSale.idempotency_key == key))


def sell(session: Session, req: SaleRequest, *, now: datetime) -> tuple[OutletSale, bool]:
    """Sell ``qty`` tickets for an outlet; ``(sale, new)`` (``new`` is False for a repeated key).

    Raises:
        NotFound: unknown or inactive outlet, or a series not assigned to it (404 either way).
        UnknownCustomer: ``customer_id`` is not a customer.
        Conflict: ``per_order_limit``, ``per_customer_limit``, ``customer_required``,
            ``quota_exceeded``, ``idempotency_key_reused`` (same key, another order), or
            ``series_sold_out`` (the series itself cannot issue that many more).
    """
    if not 1 <= req.qty <= MAX_QTY:
        raise SeriesError(f"qty must be 1..{MAX_QTY}", "qty")
    known = find_sale(session, req.outlet_id, req.idempotency_key)
    if known is not None:
        same = (known.series_id, known.qty, known.customer_id, known.paid_now) == (
            req.series_id, req.qty, req.customer_id, req.paid_now)
        if not same:
            raise refusal("idempotency_key_reused",
                           "this idempotency key was used for another sale")
        return known, False
    outlet = session.get(Outlet, req.outlet_id)
    if outlet is None or not outlet.active:
        raise NotFound(f"no active outlet {req.outlet_id}")
    assignment = session.scalar(
        select(OutletAssignment).where(OutletAssignment.outlet_id == req.outlet_id,
                                       OutletAssignment.series_id == req.series_id))
    if assignment is None:
        raise NotFound(f"series {req.series_id} is not assigned to this outlet")
    if req.customer_id is not None and session.get(Customer, req.customer_id) is None:
        raise UnknownCustomer(req.customer_id)
    raise_if_refused(check_purchase(session, series_id=req.series_id,
                                    customer_id=req.customer_id, qty=req.qty, now=now))
    took = session.execute(
        update(OutletAssignment)
        .where(OutletAssignment.id == assignment.id,
               OutletAssignment.sold + req.qty <= OutletAssignment.quota)
        .values(sold=OutletAssignment.sold + req.qty, changed_at=now)
        .execution_options(synchronize_session=False))
    if took.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(assignment)
        left = max(0, assignment.quota - assignment.sold)
        raise refusal("quota_exceeded",
                       f"this outlet's quota for series {req.series_id} has {left} tickets left "
                       f"({req.qty} asked)", quota=assignment.quota, left=left)
    holders = [req.customer_id] * req.qty if req.customer_id is not None else []
    try:
        issued = issuing.issue(session, req.series_id, count=None if holders else req.qty,
                               customers=holders, now=now)
    except issuing.IssueError as exc:  # the series itself is sold out (or inactive)
        raise refusal("series_sold_out", str(exc)) from None
    sale = OutletSale(
        outlet_id=req.outlet_id, series_id=req.series_id, idempotency_key=req.idempotency_key,
        qty=req.qty, unit_price=assignment.price, amount=assignment.price * req.qty,
        currency=assignment.currency, customer_id=req.customer_id, paid_now=req.paid_now,
        refs=[c.ref for c in issued], created_at=now)
    session.add(sale)
    session.flush()
    return sale, True


def sale_status(session: Session, sale: OutletSale) -> tuple[str, int | None]:
    """``cancelled``, ``paid`` (at once), ``invoiced`` (with the invoice id) or ``open``."""
    if session.scalar(select(OutletSaleCancellation.id)
                      .where(OutletSaleCancellation.sale_id == sale.id)) is not None:
        return "cancelled", None
    if sale.paid_now:
        return "paid", None
    inv = session.scalar(select(OutletInvoiceItem.invoice_id)
                         .where(OutletInvoiceItem.sale_id == sale.id))
    return ("open", None) if inv is None else ("invoiced", int(inv))


def sale_dict(session: Session, sale: OutletSale, *, with_codes: bool = False) -> dict[str, Any]:
    """A sale as its outlet and the operator see it (codes only for the outlet that sold it)."""
    status, invoice = sale_status(session, sale)
    out: dict[str, Any] = {
        "id": sale.id, "outlet": sale.outlet_id, "series": sale.series_id, "qty": sale.qty,
        "unit_price": money(sale.unit_price), "amount": money(sale.amount),
        "currency": sale.currency, "customer": sale.customer_id, "paid_now": sale.paid_now,
        "status": status, "invoice": invoice, "refs": list(sale.refs),
        "idempotency_key": sale.idempotency_key, "created_at": _t(sale.created_at),
    }
    if with_codes:
        rows = {c.ref: c for c in session.scalars(select(Code).where(Code.ref.in_(sale.refs)))}
        out["codes"] = [
            {"ref": ref, "code": rows[ref].code_text, "status": rows[ref].status,
             "short_serial": codes.short_serial(rows[ref].series_id, rows[ref].serial)}
            for ref in sale.refs if ref in rows]
    return out


def outlet_sales(session: Session, outlet_id: str, *, limit: int = 100,
                 before: int | None = None) -> list[OutletSale]:
    """An outlet's sales, newest first (``before``: a sale id, for the next page)."""
    stmt = select(OutletSale).where(OutletSale.outlet_id == outlet_id)
    if before is not None:
        stmt = stmt.where(OutletSale.id < before)
    return list(session.scalars(stmt.order_by(OutletSale.id.desc()).limit(limit)))


def get_sale(session: Session, outlet_id: str, sale_id: int) -> OutletSale:
    """One of the outlet's own sales; another outlet's sale is not found."""
    row = session.scalar(select(OutletSale).where(OutletSale.id == sale_id,
                                                  OutletSale.outlet_id == outlet_id))
    if row is None:
        raise NotFound(f"no sale {sale_id}")
    return row
