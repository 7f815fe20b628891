"""Loyalty statistics per business and UTC day, from the ledger, the operations and the checks.

Aggregated in Python over a bounded window (at most 92 days): the same code on SQLite and
PostgreSQL, with no dependence on the database session's time zone.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.loyalty.gift_models import TicketSale
from hub.loyalty.models import Check, LedgerEntry, Operation

MAX_DAYS = 92


def daily(session: Session, business_id: int, *, days: int, now: datetime) -> list[dict[str, Any]]:
    """Visits, points earned/spent, rewards redeemed, checks paid and their total, per day."""
    days = max(1, min(days, MAX_DAYS))
    since = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    out: dict[str, dict[str, Any]] = defaultdict(lambda: {
        "visits": 0, "points_earned": 0, "points_spent": 0, "rewards": 0, "checks": 0,
        "checks_total": Decimal("0.00")})
    for at, delta, reason, account in session.execute(
        select(LedgerEntry.at, LedgerEntry.delta, LedgerEntry.reason, LedgerEntry.account)
        .where(LedgerEntry.business_id == business_id, LedgerEntry.at >= since)
    ):
        if account == "prepaid":
            continue
        day = out[at.date().isoformat()]
        if reason.startswith("visit"):
            day["visits"] += 1
        if delta > 0:
            day["points_earned"] += delta
        else:
            day["points_spent"] -= delta
    for (at,) in session.execute(
        select(Operation.at).where(Operation.business_id == business_id,
                                   Operation.op == "redeem", Operation.at >= since)
    ):
        out[at.date().isoformat()]["rewards"] += 1
    for closed, total in session.execute(
        select(Check.closed_at, Check.total).where(
            Check.business_id == business_id, Check.status == "paid", Check.closed_at >= since)
    ):
        if closed is None:
            continue
        day = out[closed.date().isoformat()]
        day["checks"] += 1
        day["checks_total"] += total
    return [{"day": d, **{k: (f"{v:.2f}" if isinstance(v, Decimal) else v)
                          for k, v in out[d].items()}} for d in sorted(out)]


def ticket_sales(session: Session, business_id: int, *, days: int,
                 now: datetime) -> list[dict[str, Any]]:
    """Tickets (codes) sold through the catalog per UTC day and per outlet (the register device
    that closed the check): how many and for how much."""
    days = max(1, min(days, MAX_DAYS))
    since = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    out: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"tickets": 0, "total": Decimal("0.00")})
    for at, outlet, price in session.execute(
        select(TicketSale.at, TicketSale.outlet, TicketSale.price).where(
            TicketSale.business_id == business_id, TicketSale.at >= since)
    ):
        row = out[(at.date().isoformat(), outlet)]
        row["tickets"] += 1
        row["total"] += price
    return [{"day": d, "outlet": o, "tickets": v["tickets"], "total": f"{v['total']:.2f}"}
            for (d, o), v in sorted(out.items())]
