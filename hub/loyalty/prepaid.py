"""Prepaid balance: money a customer left at a business's register, spent on checks.

Amounts are :class:`~decimal.Decimal` with two places from the edge to the database (a JSON
number never reaches here: the API takes decimal strings). Every change is a ``prepaid`` ledger
row with ``amount`` set, moved with the member's materialised ``prepaid`` under the member's
row lock; an overdraft is refused before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from hub.loyalty import ledger
from hub.loyalty.errors import Conflict
from hub.loyalty.models import Member
from hub.loyalty.service import get_business, get_customer

CENT = Decimal("0.01")
MAX_TOPUP = Decimal("1000000.00")


def money(value: Decimal) -> str:
    return f"{value.quantize(CENT):.2f}"


@dataclass(frozen=True)
class PaymentDecision:
    ok: bool
    reason: str
    """``ok``, ``insufficient_prepaid``, ``bad_amount``."""


def decide_payment(balance: Decimal, amount: Decimal) -> PaymentDecision:
    """Whether ``amount`` can be paid from ``balance`` (never below zero)."""
    if amount < 0:
        return PaymentDecision(False, "bad_amount")
    if amount > balance:
        return PaymentDecision(False, "insufficient_prepaid")
    return PaymentDecision(True, "ok")


def topup(session: Session, *, customer_id: str, business_id: int, amount: Decimal, key: str,
          device: str, now: datetime) -> dict[str, Any]:
    """Add money to the customer's prepaid account at the business (once per key).

    Raises:
        Conflict: ``bad_amount`` for 0, a negative amount, more than two decimals or above
            :data:`MAX_TOPUP`.
    """
    if amount <= 0 or amount > MAX_TOPUP or amount != amount.quantize(CENT):
        raise Conflict("bad_amount", f"an amount is 0.01..{MAX_TOPUP} with two decimals")
    get_business(session, business_id)
    get_customer(session, customer_id)
    member = ledger.lock_member(session, business_id, customer_id, now=now)
    done = ledger.find_op(session, business_id, "topup", key)
    if done is not None:
        return done.answer
    row = ledger.append(session, member, account="prepaid", delta=0, amount=amount,
                        reason="topup", key=f"topup:{key}", device=device, now=now)
    session.flush()
    answer = {"business": business_id, "customer": customer_id, "amount": money(amount),
              "prepaid": money(member.prepaid), "entry": row.id}
    ledger.record_op(session, business_id=business_id, op="topup", key=key,
                     customer_id=customer_id, device=device, reason="ok", now=now,
                     answer=answer)
    return answer


def pay(session: Session, member: Member, amount: Decimal, *, check_id: int, ref: str,
        device: str, now: datetime) -> None:
    """Take a check's amount from the (locked) member's prepaid balance.

    Raises:
        Conflict: ``insufficient_prepaid`` with the balance and the amount (nothing written).
    """
    decision = decide_payment(member.prepaid, amount)
    if not decision.ok:
        raise Conflict(decision.reason, "not enough prepaid balance",
                       prepaid=money(member.prepaid), amount=money(amount))
    if amount > 0:
        ledger.append(session, member, account="prepaid", delta=0, amount=-amount,
                      reason="check", key=f"check-pay:{check_id}", device=device, now=now,
                      ref=ref)


__all__ = ["decide_payment", "money", "pay", "topup"]
