"""Per-series purchase limits: the pure rule, and check_purchase over a real database."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hub.db import Database
from hub.issuing import change_status, issue
from hub.outlets.limits import (
    PurchaseLimits,
    PurchaseReason,
    check_purchase,
    decide_purchase,
)
from hub.outlets.models import SeriesSalesRules
from hub.series import SeriesSpec, create_series
from venue.clock import FakeClock

limit = st.none() | st.integers(0, 20)


def test_no_limits_allow_anything() -> None:
    d = decide_purchase(PurchaseLimits(), qty=500, customer_known=False, held=None)
    assert d.allowed and d.reason == PurchaseReason.OK


def test_per_order_limit_refuses_a_big_order_with_a_clear_message() -> None:
    d = decide_purchase(PurchaseLimits(per_order=4), qty=5, customer_known=True, held=0)
    assert not d.allowed and d.reason == "per_order_limit" and d.limit == 4
    assert "at most 4 tickets" in d.message and "per order" in d.message


def test_per_customer_limit_counts_what_the_customer_holds() -> None:
    lim = PurchaseLimits(per_customer=4)
    assert decide_purchase(lim, qty=1, customer_known=True, held=3).allowed
    d = decide_purchase(lim, qty=2, customer_known=True, held=3)
    assert d.reason == "per_customer_limit" and d.held == 3
    assert "holds 3, so 1 more" in d.message


def test_per_customer_limit_needs_a_customer() -> None:
    d = decide_purchase(PurchaseLimits(per_customer=2), qty=1, customer_known=False, held=None)
    assert d.reason == PurchaseReason.CUSTOMER_REQUIRED and not d.allowed


@given(per_order=limit, per_customer=limit, qty=st.integers(1, 30), held=st.integers(0, 30))
def test_allowed_exactly_when_within_both_limits(
    per_order: int | None, per_customer: int | None, qty: int, held: int
) -> None:
    d = decide_purchase(PurchaseLimits(per_order, per_customer), qty=qty, customer_known=True,
                        held=held)
    within = (per_order is None or qty <= per_order) and (
        per_customer is None or held + qty <= per_customer)
    assert d.allowed == within
    assert (d.reason == PurchaseReason.OK) == within


def test_check_purchase_counts_live_tickets_only(db: Database, clock: FakeClock) -> None:
    now = clock.now()
    with db.write() as s:
        series = create_series(s, SeriesSpec(name="Gig"), now=now)
        s.add(SeriesSalesRules(series_id=series.id, per_order_limit=3, per_customer_limit=3,
                               transferable=True, bound_to_phone=False, changed_at=now))
        sid = series.id
        codes = issue(s, sid, customers=["c_a", "c_a", "c_b"], now=now)
    with db.write() as s:
        d = check_purchase(s, series_id=sid, customer_id="c_a", qty=2, now=now)
        assert d.reason == "per_customer_limit" and d.held == 2
        assert check_purchase(s, series_id=sid, customer_id="c_a", qty=1, now=now).allowed
        assert check_purchase(s, series_id=sid, customer_id="c_b", qty=4,
                              now=now).reason == "per_order_limit"
        change_status(s, codes[0].ref, "revoke", now=now)
    with db.write() as s:  # a revoked ticket no longer counts
        assert check_purchase(s, series_id=sid, customer_id="c_a", qty=2, now=now).allowed
        assert check_purchase(s, series_id=sid, customer_id=None,
                              qty=1, now=now).reason == "customer_required"
