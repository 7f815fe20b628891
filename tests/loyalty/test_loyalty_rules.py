"""The pure loyalty rules: cooldown, accrual, which points pay a reward, check numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from hub.loyalty.rules import Draw, accrual, check_number, decide_visit, plan_spend

T = datetime(2026, 1, 1, 12, tzinfo=UTC)


def test_cooldown() -> None:
    first = decide_visit(visit_points=10, cooldown_s=3600, last_visit_at=None, at=T)
    assert (first.credited, first.reason, first.points) == (True, "ok", 10)
    assert first.next_at == T + timedelta(hours=1)
    inside = decide_visit(visit_points=10, cooldown_s=3600, last_visit_at=T,
                          at=T + timedelta(minutes=59))
    assert (inside.credited, inside.reason, inside.next_at) == (False, "cooldown",
                                                                T + timedelta(hours=1))
    assert decide_visit(visit_points=10, cooldown_s=3600, last_visit_at=T,
                        at=T + timedelta(hours=1)).credited
    late = decide_visit(visit_points=10, cooldown_s=3600, last_visit_at=T,
                        at=T - timedelta(hours=5))
    assert late.reason == "cooldown"  # older than the last credit: never a second credit
    assert decide_visit(visit_points=10, cooldown_s=0, last_visit_at=T,
                        at=T - timedelta(seconds=1)).credited  # no cooldown: any order earns
    assert decide_visit(visit_points=0, cooldown_s=0, last_visit_at=None, at=T).reason == "no_rule"


@pytest.mark.parametrize(("total", "rate", "points"), [
    ("159.90", "0.1", 15), ("9.99", "0.1", 0), ("100.00", "0", 0), ("0.00", "1", 0),
    ("33.33", "3", 99), ("-5.00", "1", 0),
])
def test_accrual_rounds_down(total: str, rate: str, points: int) -> None:
    assert accrual(Decimal(total), Decimal(rate)) == points


def test_plan_spend_takes_the_soonest_expiring_bonus_first() -> None:
    soon, later = T + timedelta(days=1), T + timedelta(days=9)
    plan = plan_spend(50, 100, [(later, 20), (None, 5), (soon, 10)])
    assert plan == [Draw("bonus_points", 10, soon), Draw("bonus_points", 20, later),
                    Draw("bonus_points", 5, None), Draw("points", 15)]
    assert plan_spend(5, 100, []) == [Draw("points", 5)]
    with pytest.raises(ValueError):
        plan_spend(50, 30, [(soon, 19)])


def test_check_numbers_wrap() -> None:
    assert [check_number(i) for i in (17, 999, 1000, 1017)] == ["A-017", "A-999", "A-000",
                                                                "A-017"]
