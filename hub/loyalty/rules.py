"""Pure loyalty decisions: no database, no clock of their own (the caller passes ``now``).

Kept apart from the I/O so the cooldown, the accrual on a check and the choice of which points a
reward spends can be tested and read on their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum


class VisitReason(StrEnum):
    """Why a visit was or was not credited (the contract's closed list)."""

    OK = "ok"
    COOLDOWN = "cooldown"
    NO_RULE = "no_rule"


@dataclass(frozen=True, slots=True)
class VisitDecision:
    credited: bool
    reason: VisitReason
    points: int
    next_at: datetime | None
    """When the next visit can earn again (``None`` when there is no visit rule)."""


def decide_visit(
    *, visit_points: int, cooldown_s: int, last_visit_at: datetime | None, at: datetime
) -> VisitDecision:
    """Credit a visit at ``at`` unless one was credited less than ``cooldown_s`` before.

    A visit stamped before the last credited one (a late upload) is inside the cooldown too: a
    delayed queue must not earn twice. Without a cooldown every visit earns, in any order (two
    requests stamped on arrival may take the lock in the other order).
    """
    if visit_points <= 0:
        return VisitDecision(False, VisitReason.NO_RULE, 0, None)
    cooldown = timedelta(seconds=max(0, cooldown_s))
    if last_visit_at is not None and cooldown and at < last_visit_at + cooldown:
        return VisitDecision(False, VisitReason.COOLDOWN, 0, last_visit_at + cooldown)
    return VisitDecision(True, VisitReason.OK, visit_points, at + cooldown)


def accrual(total: Decimal, points_per_amount: Decimal) -> int:
    """Points earned on a paid check: rounded down (a customer never gets a fraction)."""
    if total <= 0 or points_per_amount <= 0:
        return 0
    return int((total * points_per_amount).to_integral_value(rounding=ROUND_FLOOR))


@dataclass(frozen=True, slots=True)
class Draw:
    """Part of a spend: ``amount`` taken from ``account``; for bonus lots, the lot's expiry."""

    account: str
    amount: int
    expires_at: datetime | None = None


def plan_spend(cost: int, points: int, bonus_lots: list[tuple[datetime | None, int]]) -> list[Draw]:
    """Which points pay ``cost``: bonus lots first, soonest-expiring first, then points.

    Bonus points expire, so spending them first is what the customer would want. A spend row
    carries its lot's expiry, which makes the lot and its spends drop out of the bonus balance
    together when it expires (see :func:`hub.loyalty.ledger.bonus_lots`).

    Raises:
        ValueError: the balance does not cover ``cost``.
    """
    available = points + sum(n for _, n in bonus_lots if n > 0)
    if cost > available:
        raise ValueError("insufficient points")
    left = cost
    out: list[Draw] = []
    far = datetime.max.replace(tzinfo=None)
    for exp, n in sorted(bonus_lots, key=lambda lot: lot[0].replace(tzinfo=None) if lot[0]
                         else far):
        if left == 0:
            break
        take = min(n, left)
        if take > 0:
            out.append(Draw("bonus_points", take, exp))
            left -= take
    if left:
        out.append(Draw("points", left))
    return out


def check_number(check_id: int) -> str:
    """The short number a customer hears called out: ``A-017`` (wraps at 1000)."""
    return f"A-{check_id % 1000:03d}"
