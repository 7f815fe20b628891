"""The append-only ledger and the member row that serialises one customer's writes.

Every write path does the same thing: lock the member row (``SELECT ... FOR UPDATE`` on
PostgreSQL; SQLite has one writer, taken by ``BEGIN IMMEDIATE``), look the idempotency key up
(after the lock, so a concurrent twin has either committed its answer or not started), decide,
append ledger rows, move the materialised balance and its version, store the answer.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hub.loyalty.models import LedgerEntry, Member, Operation

ACCOUNTS = ("points", "bonus_points", "prepaid")


def lock_member(session: Session, business_id: int, customer_id: str, *, now: datetime) -> Member:
    """The (business, customer) member row, created if missing, locked for this transaction."""
    dialect = session.get_bind().dialect.name
    values = dict(business_id=business_id, customer_id=customer_id, points=0,
                  prepaid=Decimal("0.00"), version=0, joined_at=now)
    ins: Any = (postgresql.insert(Member) if dialect == "postgresql" else sqlite.insert(Member))
    session.execute(ins.values(**values).on_conflict_do_nothing())
    member = session.scalar(
        select(Member)
        .where(Member.business_id == business_id, Member.customer_id == customer_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert member is not None
    return member


def find_op(session: Session, business_id: int, op: str, key: str) -> Operation | None:
    return session.scalar(select(Operation).where(
        Operation.business_id == business_id, Operation.op == op,
        Operation.idempotency_key == key))


def record_op(session: Session, *, business_id: int, op: str, key: str, customer_id: str | None,
              device: str, reason: str, now: datetime, answer: dict[str, Any]) -> None:
    session.add(Operation(business_id=business_id, op=op, idempotency_key=key,
                          customer_id=customer_id, device=device, reason=reason, at=now,
                          answer=answer))


def append(
    session: Session,
    member: Member,
    *,
    account: str,
    delta: int,
    reason: str,
    key: str,
    device: str,
    now: datetime,
    ref: str | None = None,
    expires_at: datetime | None = None,
    amount: Decimal | None = None,
) -> LedgerEntry:
    """Append one ledger row and move the member's materialised balance with it."""
    if account not in ACCOUNTS:
        raise ValueError(f"unknown account {account!r}")
    row = LedgerEntry(business_id=member.business_id, customer_id=member.customer_id,
                      account=account, delta=delta, amount=amount, reason=reason, ref=ref,
                      source_device=device, idempotency_key=key, at=now, expires_at=expires_at)
    session.add(row)
    if account == "points":
        member.points += delta
    elif account == "prepaid" and amount is not None:
        member.prepaid += amount
    member.version += 1
    return row


def bonus_lots(session: Session, business_id: int, customer_id: str,
               now: datetime) -> list[tuple[datetime | None, int]]:
    """Unexpired bonus points per expiry (a spend row carries the expiry of the lot it drew on)."""
    rows = session.execute(
        select(LedgerEntry.expires_at, func.sum(LedgerEntry.delta))
        .where(LedgerEntry.business_id == business_id, LedgerEntry.customer_id == customer_id,
               LedgerEntry.account == "bonus_points",
               or_(LedgerEntry.expires_at.is_(None), LedgerEntry.expires_at > now))
        .group_by(LedgerEntry.expires_at)
    ).all()
    lots: dict[datetime | None, int] = defaultdict(int)
    for exp, total in rows:
        lots[exp] += int(total or 0)
    return [(exp, n) for exp, n in lots.items() if n > 0]


def bonus_balance(session: Session, business_id: int, customer_id: str, now: datetime) -> int:
    return sum(n for _, n in bonus_lots(session, business_id, customer_id, now))


def bonus_balances(session: Session, business_ids: list[int], customer_id: str,
                   now: datetime) -> dict[int, int]:
    """Bonus balance per business in one query (for a summary)."""
    rows = session.execute(
        select(LedgerEntry.business_id, LedgerEntry.expires_at, func.sum(LedgerEntry.delta))
        .where(and_(LedgerEntry.business_id.in_(business_ids),
                    LedgerEntry.customer_id == customer_id,
                    LedgerEntry.account == "bonus_points",
                    or_(LedgerEntry.expires_at.is_(None), LedgerEntry.expires_at > now)))
        .group_by(LedgerEntry.business_id, LedgerEntry.expires_at)
    ).all()
    out: dict[int, int] = defaultdict(int)
    for bid, _exp, total in rows:
        out[int(bid)] += max(0, int(total or 0))
    return dict(out)


def derived_points(session: Session, business_id: int, customer_id: str) -> int:
    """The points balance recomputed from the ledger (to audit the materialised one)."""
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.delta), 0))
        .where(LedgerEntry.business_id == business_id, LedgerEntry.customer_id == customer_id,
               LedgerEntry.account == "points"))
    return int(total or 0)
