"""What a check's close does beyond points: coupons applied, tickets sold through the catalog.

* **Coupons on a check**: a coupon of a series with a benefit (``loyalty_coupon_benefits``:
  an amount off, a percent off, or one unit of an item free) lowers what the check costs; the
  coupon is redeemed (one of its entries used) in the close's transaction, so it is used exactly
  once with the check, and accrual and a prepaid payment use the discounted total.
  :func:`discount` is the pure arithmetic.
* **Tickets sold**: a catalog item bound to a series (``loyalty_item_series``) issues one code
  per unit to the check's customer when the check closes paid; each sale is a
  ``loyalty_ticket_sales`` row with the register (outlet) that closed it. The series' purchase
  limits (:mod:`hub.outlets.limits`) are checked at submission and again at close. The check's
  status moving from ``queued`` once, under its row lock, makes both happen once however often
  a close is retried.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import issuing
from hub.loyalty import giftcodes
from hub.loyalty.errors import Conflict
from hub.loyalty.gift_models import CouponBenefit, ItemSeries, TicketSale
from hub.loyalty.models import Check, Item
from hub.models import Code, CodeEvent, Series
from hub.outlets import limits as purchase_limits
from hub.series import NotFound, get_series

CENT = Decimal("0.01")
MAX_COUPONS = 10


# --- the arithmetic (pure) ---------------------------------------------------------------------


@dataclass(frozen=True)
class Benefit:
    """What one coupon is worth on a check."""

    ref: str
    kind: str
    """``amount``, ``percent`` or ``item``."""
    value: Decimal
    item: int | None = None


@dataclass(frozen=True)
class Discount:
    amount: Decimal
    reason: str
    """``ok``, or ``coupon_not_applicable`` (``ref`` names the coupon: its item is not on the
    check, or every unit of it is already free)."""
    ref: str | None = None


def discount(lines: Sequence[tuple[int, int, Decimal]], benefits: Sequence[Benefit]) -> Discount:
    """The discount of ``benefits`` on a check of ``(item, qty, unit price)`` lines.

    Free items come off first (one unit each), then amounts, then percents of what is left;
    the discount never passes the total. Rounded half up to the cent.
    """
    total = sum((price * qty for _, qty, price in lines), Decimal("0.00"))
    left_units = {item: qty for item, qty, _ in lines}
    prices = {item: price for item, _, price in lines}
    off = Decimal("0.00")
    for b in sorted(benefits, key=lambda b: ("item", "amount", "percent").index(b.kind)):
        if b.kind == "item":
            if b.item is None or left_units.get(b.item, 0) <= 0:
                return Discount(Decimal("0.00"), "coupon_not_applicable", b.ref)
            left_units[b.item] -= 1
            off += prices[b.item]
        elif b.kind == "amount":
            off += b.value
        else:
            off += (max(Decimal(0), total - off) * b.value / 100).quantize(
                CENT, rounding=ROUND_HALF_UP)
    return Discount(min(off, total).quantize(CENT, rounding=ROUND_HALF_UP), "ok")


# --- configuration -----------------------------------------------------------------------------


def bind_item(session: Session, item_id: int, series_id: int | None) -> dict[str, Any]:
    """Sell an item as a series' codes (``None`` unbinds)."""
    item = session.get(Item, item_id)
    if item is None:
        raise NotFound(f"no item {item_id}")
    row = session.get(ItemSeries, item_id)
    if series_id is None:
        if row is not None:
            session.delete(row)
    else:
        get_series(session, series_id)
        if row is None:
            session.add(ItemSeries(item_id=item_id, series_id=series_id))
        else:
            row.series_id = series_id
    return {"item": item_id, "series": series_id}


def set_benefit(session: Session, series_id: int, *, business_id: int, kind: str,
                value: Decimal, item_id: int | None) -> dict[str, Any]:
    """Define what a coupon of the series takes off a check of the business."""
    get_series(session, series_id)
    if item_id is not None:
        item = session.get(Item, item_id)
        if item is None or item.business_id != business_id:
            raise NotFound(f"no item {item_id} in business {business_id}")
    row = session.get(CouponBenefit, series_id)
    if row is None:
        row = CouponBenefit(series_id=series_id, business_id=business_id, kind=kind,
                            value=value, item_id=item_id)
        session.add(row)
    else:
        row.business_id, row.kind, row.value, row.item_id = business_id, kind, value, item_id
    return benefit_json(row)


def benefit_json(row: CouponBenefit) -> dict[str, Any]:
    return {"series": row.series_id, "business": row.business_id, "kind": row.kind,
            "value": f"{row.value:.2f}", "item": row.item_id}


def item_series(session: Session, item_ids: Sequence[int]) -> dict[int, int]:
    if not item_ids:
        return {}
    rows = session.execute(select(ItemSeries.item_id, ItemSeries.series_id)
                           .where(ItemSeries.item_id.in_(list(item_ids)))).all()
    return {int(i): int(s) for i, s in rows}


# --- at submission -----------------------------------------------------------------------------


def check_limits(session: Session, *, customer_id: str | None, wanted: dict[int, int],
                 now: datetime) -> None:
    """The series' purchase limits (:mod:`hub.outlets.limits`: per order, per customer).

    Raises:
        Conflict: ``per_order_limit``, ``per_customer_limit`` or ``customer_required`` with
            ``message``, ``limit``, ``held`` and the ``series``.
    """
    for sid, n in sorted(wanted.items()):
        decision = purchase_limits.check_purchase(session, series_id=sid,
                                                  customer_id=customer_id, qty=n, now=now)
        purchase_limits.raise_if_refused(decision, series=sid)


def wanted_series(bound: dict[int, int], qty: dict[int, int]) -> dict[int, int]:
    """Units asked per series, from the bound items' quantities."""
    wanted: dict[int, int] = {}
    for item, sid in bound.items():
        wanted[sid] = wanted.get(sid, 0) + qty[item]
    return wanted


def check_submission(session: Session, *, customer_id: str | None,
                     qty: dict[int, int], now: datetime) -> None:
    """Refuse a check that cannot end in its tickets: no customer to issue them to
    (``customer_required``), fewer codes left in a series than units asked (``sold_out``), or a
    series' purchase limit (:func:`check_limits`)."""
    bound = item_series(session, list(qty))
    if not bound:
        return
    if customer_id is None:
        raise Conflict("customer_required", "tickets are issued to a customer",
                       items=sorted(bound))
    wanted = wanted_series(bound, qty)
    short = sorted(item for item, sid in bound.items()
                   if issuing.available(get_series(session, sid)) < wanted[sid])
    if short:
        raise Conflict("sold_out", "not enough tickets left", items=short)
    check_limits(session, customer_id=customer_id, wanted=wanted, now=now)


def coupon_refs(refs: Sequence[str]) -> list[str]:
    out = list(dict.fromkeys(r.strip() for r in refs))
    if len(out) > MAX_COUPONS:
        raise Conflict("too_many_coupons", f"at most {MAX_COUPONS} coupons on a check")
    return out


# --- at close ----------------------------------------------------------------------------------


def usable_coupon(session: Session, ref: str, *, customer_id: str | None, business_id: int,
                  now: datetime, lock: bool) -> tuple[Code, CouponBenefit]:
    """The coupon and its benefit, if the customer can use it on a check of the business now.

    Raises:
        Conflict: ``customer_required``; ``coupon_invalid`` with ``why``: unknown, not_yours,
            used (entries used up), revoked/blocked/annulled, not_valid_now, no_benefit_here.
    """
    if customer_id is None:
        raise Conflict("customer_required", "coupons are used by their holder")
    try:
        code = issuing.find_code(session, ref, lock=lock)
    except NotFound:
        raise Conflict("coupon_invalid", "unknown coupon", coupon=ref, why="unknown") from None
    series = session.get(Series, code.series_id)
    benefit = session.get(CouponBenefit, code.series_id)
    assert series is not None
    why = None
    if code.customer_id != customer_id:
        why = "not_yours"
    elif code.status != "issued":
        why = code.status
    elif code.entries_used >= series.entries_per_code:
        why = "used"
    elif (series.valid_until is not None and series.valid_until <= now) or (
            series.valid_from is not None and series.valid_from > now):
        why = "not_valid_now"
    elif benefit is None or benefit.business_id != business_id:
        why = "no_benefit_here"
    if why is not None:
        raise Conflict("coupon_invalid", f"coupon cannot be used: {why}", coupon=ref, why=why)
    assert benefit is not None
    return code, benefit


def check_coupons(session: Session, refs: Sequence[str], *, customer_id: str | None,
                  business_id: int, lines: Sequence[tuple[int, int, Decimal]],
                  now: datetime) -> Decimal:
    """At submission: the coupons are usable and apply; the discount they would give."""
    benefits = []
    for ref in refs:
        code, b = usable_coupon(session, ref, customer_id=customer_id, business_id=business_id,
                                now=now, lock=False)
        benefits.append(Benefit(code.ref, b.kind, b.value, b.item_id))
    return _discount_or_conflict(lines, benefits)


def _discount_or_conflict(lines: Sequence[tuple[int, int, Decimal]],
                          benefits: Sequence[Benefit]) -> Decimal:
    found = discount(lines, benefits)
    if found.reason != "ok":
        raise Conflict(found.reason, "the coupon's item is not on this check", coupon=found.ref)
    return found.amount


def check_lines(check: Check) -> list[tuple[int, int, Decimal]]:
    return [(int(ln["item"]), int(ln["qty"]), Decimal(ln["price"])) for ln in check.lines]


def apply_coupons(session: Session, check: Check, refs: Sequence[str], *,
                  now: datetime) -> Decimal:
    """Redeem the check's coupons (one entry each) and return the discount they give.

    Raises:
        Conflict: as :func:`usable_coupon`, or ``coupon_not_applicable``. Nothing is kept: the
            caller's transaction rolls back.
    """
    if not refs:
        return Decimal("0.00")
    benefits = []
    for ref in refs:
        code, b = usable_coupon(session, ref, customer_id=check.customer_id,
                                business_id=check.business_id, now=now, lock=True)
        code.entries_used += 1
        code.first_used_at = code.first_used_at or now
        code.last_used_at, code.changed_at = now, now
        code.last_gate = f"check:{check.id}"[:64]
        session.add(CodeEvent(code_id=code.id, status="redeemed", at=now,
                              detail=f"check {check.number}"))
        benefits.append(Benefit(code.ref, b.kind, b.value, b.item_id))
    return _discount_or_conflict(check_lines(check), benefits)


def issue_tickets(session: Session, check: Check, *, outlet: str,
                  now: datetime) -> list[dict[str, Any]]:
    """One code per unit of each bound item, to the check's customer; one sale row each.

    Raises:
        Conflict: ``customer_required``; ``unavailable`` when a series cannot issue.
    """
    bound = item_series(session, [int(ln["item"]) for ln in check.lines])
    if not bound:
        return []
    if check.customer_id is None:
        raise Conflict("customer_required", "tickets are issued to a customer")
    qty: dict[int, int] = {}
    for ln in check.lines:
        qty[int(ln["item"])] = qty.get(int(ln["item"]), 0) + int(ln["qty"])
    # again at close, under the series lock: two queued checks may together pass a limit
    check_limits(session, customer_id=check.customer_id,
                 wanted=wanted_series(bound, qty), now=now)
    out = []
    for ln in check.lines:
        item = int(ln["item"])
        if item not in bound:
            continue
        for _ in range(int(ln["qty"])):
            coupon = giftcodes.issue_coupon(session, bound[item], customer_id=check.customer_id,
                                            business_id=check.business_id, now=now)
            session.add(TicketSale(business_id=check.business_id, check_id=check.id, item_id=item,
                                   series_id=bound[item], ref=coupon["ref"], outlet=outlet,
                                   price=Decimal(ln["price"]), at=now))
            out.append(coupon)
    return out


def tickets_of(session: Session, check_ids: Sequence[int]) -> dict[int, list[str]]:
    """The refs issued for each of these checks (for the check's JSON)."""
    out: dict[int, list[str]] = {}
    if not check_ids:
        return out
    rows = session.execute(select(TicketSale.check_id, TicketSale.ref)
                           .where(TicketSale.check_id.in_(list(check_ids)))
                           .order_by(TicketSale.id)).all()
    for cid, ref in rows:
        out.setdefault(int(cid), []).append(str(ref))
    return out
