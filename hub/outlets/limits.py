"""Per-series purchase limits against scalping: per order and per customer.

:func:`decide_purchase` is the pure rule over plain values; :func:`check_purchase` reads what it
needs (the series' rules and how many live tickets the customer already holds) and asks it. Every
sale path calls :func:`check_purchase` inside its write transaction before issuing, and turns a
refusal into a 409 with :func:`raise_if_refused`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.models import Code
from hub.outlets.errors import refusal
from hub.outlets.models import SeriesSalesRules
from hub.series import get_series

LIVE_STATUSES = ("issued", "blocked")
"""Tickets that count against a customer's limit (revoked, annulled and transferred do not)."""


class PurchaseReason(StrEnum):
    """Why a purchase is allowed or refused (closed list; the 409 body's ``reason``)."""

    OK = "ok"
    PER_ORDER_LIMIT = "per_order_limit"
    PER_CUSTOMER_LIMIT = "per_customer_limit"
    CUSTOMER_REQUIRED = "customer_required"
    """The series limits tickets per customer, so an anonymous sale cannot be checked."""


@dataclass(frozen=True, slots=True)
class PurchaseLimits:
    """A series' limits (``None``: no limit)."""

    per_order: int | None = None
    per_customer: int | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer: ``allowed``, the machine-readable ``reason`` and a sentence for people.

    ``limit`` is the limit that refused (or ``None``), ``held`` the customer's live tickets of the
    series before this purchase (``None`` when not counted).
    """

    allowed: bool
    reason: PurchaseReason
    message: str = ""
    limit: int | None = None
    held: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"allowed": self.allowed, "reason": str(self.reason), "message": self.message,
                "limit": self.limit, "held": self.held}


def decide_purchase(
    limits: PurchaseLimits, *, qty: int, customer_known: bool, held: int | None
) -> Decision:
    """Whether a purchase of ``qty`` tickets may go ahead (pure).

    Args:
        limits: the series' limits.
        qty: tickets in this order (>= 1).
        customer_known: the buyer is a known customer.
        held: the customer's live tickets of the series already (``None`` if not counted).
    """
    if limits.per_order is not None and qty > limits.per_order:
        return Decision(False, PurchaseReason.PER_ORDER_LIMIT,
                        f"at most {limits.per_order} tickets of this series per order "
                        f"({qty} asked)", limits.per_order, held)
    if limits.per_customer is not None:
        if not customer_known:
            return Decision(False, PurchaseReason.CUSTOMER_REQUIRED,
                            f"this series is limited to {limits.per_customer} tickets per "
                            "customer: name the customer (phone or id)", limits.per_customer)
        have = held or 0
        if have + qty > limits.per_customer:
            left = max(0, limits.per_customer - have)
            return Decision(False, PurchaseReason.PER_CUSTOMER_LIMIT,
                            f"at most {limits.per_customer} tickets of this series per customer: "
                            f"the customer holds {have}, so {left} more can be bought",
                            limits.per_customer, have)
    return Decision(True, PurchaseReason.OK, "", None, held)


def series_limits(session: Session, series_id: int) -> PurchaseLimits:
    row = session.get(SeriesSalesRules, series_id)
    if row is None:
        return PurchaseLimits()
    return PurchaseLimits(row.per_order_limit, row.per_customer_limit)


def held_tickets(session: Session, series_id: int, customer_id: str) -> int:
    """How many live tickets of the series the customer holds."""
    return int(session.scalar(
        select(func.count()).select_from(Code).where(
            Code.series_id == series_id, Code.customer_id == customer_id,
            Code.status.in_(LIVE_STATUSES))) or 0)


def check_purchase(
    session: Session, *, series_id: int, customer_id: str | None, qty: int, now: datetime
) -> Decision:
    """Check a purchase against the series' limits, inside the caller's write transaction.

    Takes the series row lock first (as issuing does), so two racing purchases of one customer
    are counted one after the other on PostgreSQL too; SQLite has one writer anyway. ``now`` is
    the time of the purchase (kept in the signature for time-bound rules; no rule uses it yet).

    Raises:
        NotFound: no such series.
    """
    del now
    get_series(session, series_id, lock=True)
    limits = series_limits(session, series_id)
    held = None
    if customer_id is not None and limits.per_customer is not None:
        held = held_tickets(session, series_id, customer_id)
    return decide_purchase(limits, qty=qty, customer_known=customer_id is not None, held=held)


def raise_if_refused(decision: Decision, **extra: Any) -> None:
    """Turn a refusal into the API's 409 (``{"reason", "message", "limit", "held"}``)."""
    if not decision.allowed:
        raise refusal(str(decision.reason), decision.message, limit=decision.limit,
                      held=decision.held, **extra)


__all__ = ["Decision", "PurchaseLimits", "PurchaseReason", "check_purchase", "decide_purchase",
           "held_tickets", "raise_if_refused", "series_limits"]
