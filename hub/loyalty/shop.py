"""Catalog and self-checkout: items with Decimal prices, checks queued for the register.

A check's total is computed here from the catalog's prices (a kiosk's own arithmetic is never
trusted); closing it paid applies its coupons, takes a prepaid payment, issues the tickets of
items sold as a series (:mod:`hub.loyalty.sales`) and accrues points on what was paid, all once,
by the check's one move out of ``queued`` under its row lock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.loyalty import ledger, prepaid, sales
from hub.loyalty.errors import Conflict
from hub.loyalty.gift_models import CheckExtra
from hub.loyalty.models import Category, Check, Item
from hub.loyalty.rules import accrual, check_number
from hub.loyalty.service import get_business, get_customer, get_rules
from hub.series import NotFound
from venue.messages import rfc3339


def money(value: Decimal) -> str:
    return f"{value:.2f}"


def media_path(name: str | None) -> str | None:
    return None if not name else f"/api/v1/media/{name}"


def item_json(item: Item, currency: str) -> dict[str, Any]:
    return {"id": item.id, "category": item.category_id, "name": item.name,
            "price": money(item.price), "currency": currency, "image": media_path(item.image),
            "available": item.available}


def catalog(session: Session, business_id: int) -> dict[str, Any]:
    business = get_business(session, business_id)
    cats = session.scalars(select(Category).where(Category.business_id == business_id)
                           .order_by(Category.position, Category.id))
    items = session.scalars(select(Item).where(Item.business_id == business_id)
                            .order_by(Item.category_id, Item.id))
    return {"categories": [{"id": c.id, "name": c.name} for c in cats],
            "items": [item_json(i, business.currency) for i in items]}


def check_json(check: Check, extra: CheckExtra | None = None,
               tickets: Sequence[str] = ()) -> dict[str, Any]:
    """A check; ``discount``/``to_pay`` are the coupons' preview until it closes paid, then
    what was taken; ``tickets`` the refs issued for it."""
    off = extra.discount if extra is not None else Decimal("0.00")
    to_pay = extra.payable if extra is not None and extra.payable is not None else (
        check.total - off)
    return {"check": check.id, "number": check.number, "total": money(check.total),
            "currency": check.currency, "qr": f"venue:check:{check.id}:{check.number}",
            "status": "queued" if check.status == "queued" else check.status,
            "business": check.business_id, "customer": check.customer_id,
            "lines": check.lines, "points": check.points,
            "coupons": list(extra.coupons) if extra is not None else [],
            "discount": money(off), "to_pay": money(to_pay),
            "payment": None if extra is None else extra.payment, "tickets": list(tickets),
            "created_at": rfc3339(check.created_at),
            "closed_at": None if check.closed_at is None else rfc3339(check.closed_at)}


def checks_json(session: Session, checks: Sequence[Check]) -> list[dict[str, Any]]:
    """Checks with their coupons, payment and tickets (two queries for the lot)."""
    ids = [c.id for c in checks]
    extras = {e.check_id: e for e in session.scalars(
        select(CheckExtra).where(CheckExtra.check_id.in_(ids)))} if ids else {}
    tickets = sales.tickets_of(session, ids)
    return [check_json(c, extras.get(c.id), tickets.get(c.id, ())) for c in checks]


def submit_check(session: Session, *, business_id: int, customer_id: str | None,
                 lines: list[tuple[int, int]], key: str, device: str,
                 now: datetime, coupons: Sequence[str] = ()) -> Check:
    """Queue a check; the same key returns the same check.

    Raises:
        Conflict: ``unavailable`` with the items that are not for sale (or not of this
            business); for tickets, ``customer_required`` or ``sold_out``; for coupons,
            ``coupon_invalid``/``coupon_not_applicable`` (:mod:`hub.loyalty.sales`).
    """
    business = get_business(session, business_id)
    existing = session.scalar(select(Check).where(Check.business_id == business_id,
                                                  Check.idempotency_key == key))
    if existing is not None:
        return existing
    if customer_id is not None:
        get_customer(session, customer_id)
    qty: Counter[int] = Counter()
    for item_id, n in lines:
        qty[item_id] += n
    items = {i.id: i for i in session.scalars(select(Item).where(Item.id.in_(list(qty))))}
    missing = sorted(i for i in qty if i not in items or not items[i].available
                     or items[i].business_id != business_id)
    if missing:
        raise Conflict("unavailable", "items unavailable", items=missing)
    sales.check_submission(session, customer_id=customer_id, qty=dict(qty), now=now)
    refs = sales.coupon_refs(coupons)
    off = sales.check_coupons(session, refs, customer_id=customer_id, business_id=business_id,
                              lines=[(i, n, items[i].price) for i, n in qty.items()], now=now)
    out_lines = [{"item": i, "name": items[i].name, "qty": n, "price": money(items[i].price),
                  "amount": money(items[i].price * n)} for i, n in qty.items()]
    total = sum((items[i].price * n for i, n in qty.items()), Decimal("0.00"))
    check = Check(business_id=business_id, customer_id=customer_id, device=device,
                  idempotency_key=key, number="", lines=out_lines, total=total,
                  currency=business.currency, status="queued", points=0, created_at=now)
    session.add(check)
    session.flush()
    check.number = check_number(check.id)
    session.add(CheckExtra(check_id=check.id, coupons=refs, discount=off))
    return check


def queue(session: Session, business_id: int | None, status: str = "queued") -> list[Check]:
    stmt = select(Check).where(Check.status == status)
    if business_id is not None:
        stmt = stmt.where(Check.business_id == business_id)
    return list(session.scalars(stmt.order_by(Check.id).limit(500)))


def close_check(session: Session, check_id: int, *, paid: bool, device: str,
                now: datetime, payment: str = "other", coupons: Sequence[str] = ()) -> Check:
    """Close a check: paid → redeem its coupons, take a prepaid payment, issue its tickets,
    accrue the rules' points on what was paid; unpaid → cancelled. All once.

    Closing again returns the closed check unchanged (a register retrying its request).

    Raises:
        NotFound: no such check.
        Conflict: ``already_closed`` when asked to close it the other way;
            ``insufficient_prepaid``, ``customer_required``, ``coupon_invalid``,
            ``coupon_not_applicable``, ``unavailable`` (a ticket series cannot issue): the
            check stays queued and nothing is written.
    """
    check = session.scalar(select(Check).where(Check.id == check_id).with_for_update())
    if check is None:
        raise NotFound(f"no check {check_id}")
    want = "paid" if paid else "cancelled"
    if check.status != "queued":
        if check.status != want:
            raise Conflict("already_closed", f"check {check_id} is {check.status}",
                           status=check.status)
        return check
    check.status, check.closed_at, check.closed_by = want, now, device
    if not paid:
        return check
    extra = session.get(CheckExtra, check.id)
    if extra is None:  # a check queued before coupons existed
        extra = CheckExtra(check_id=check.id, coupons=[], discount=Decimal("0.00"))
        session.add(extra)
    refs = sales.coupon_refs([*extra.coupons, *coupons])
    off = sales.apply_coupons(session, check, refs, now=now)
    payable = check.total - off
    member = None
    if payment == "prepaid":
        if check.customer_id is None:
            raise Conflict("customer_required", "prepaid belongs to a customer")
        member = ledger.lock_member(session, check.business_id, check.customer_id, now=now)
        prepaid.pay(session, member, payable, check_id=check.id, ref=check.number,
                    device=device, now=now)
    sales.issue_tickets(session, check, outlet=device, now=now)
    extra.coupons, extra.discount, extra.payable, extra.payment = refs, off, payable, payment
    if check.customer_id is not None:
        rules = get_rules(session, check.business_id, now=now)
        points = accrual(payable, rules.points_per_amount)
        if points > 0:
            member = member or ledger.lock_member(session, check.business_id,
                                                  check.customer_id, now=now)
            ledger.append(session, member, account="points", delta=points, reason="check",
                          key=f"check:{check.id}", device=device, now=now, ref=check.number)
            check.points = points
        from hub.loyalty import campaigns  # issuance campaigns on checks (hub/loyalty/campaigns.py)
        campaigns.on_check_closed(session, check, now)
    return check


def add_category(session: Session, business_id: int, name: str, position: int) -> Category:
    get_business(session, business_id)
    row = Category(business_id=business_id, name=name, position=position)
    session.add(row)
    session.flush()
    return row


def add_item(session: Session, *, business_id: int, category_id: int, name: str,
             price: Decimal, image: str | None, available: bool) -> Item:
    cat = session.get(Category, category_id)
    if cat is None or cat.business_id != business_id:
        raise NotFound(f"no category {category_id} in business {business_id}")
    row = Item(business_id=business_id, category_id=category_id, name=name, price=price,
               image=image, available=available)
    session.add(row)
    session.flush()
    return row
