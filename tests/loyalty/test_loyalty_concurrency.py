"""Exactly-once under concurrency, over real HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from loyaltykit import key, ok, points, register, seed, visit

from hub.db import Database
from hub.loyalty.ledger import derived_points


def _together(url: str, n: int, fn: Any) -> list[Any]:
    """Run ``fn(client, i)`` in ``n`` threads released at once by a barrier (no sleeps).

    Each thread's keep-alive connection is opened before the barrier, so the requests reach the
    hub together instead of being spread out by TCP handshakes.
    """
    barrier = threading.Barrier(n)

    def run(i: int) -> Any:
        with httpx.Client(base_url=url, timeout=30) as own:
            own.get("/health").raise_for_status()
            barrier.wait(10)
            return fn(own, i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def test_50_concurrent_visits_credit_exactly_once(live: httpx.Client, any_db: Database) -> None:
    s = seed(live, visit_points=10, cooldown_s=43200)
    c = register(live, s)["customer"]
    retried = key()
    url = str(live.base_url)

    def call(own: httpx.Client, i: int) -> dict[str, Any]:
        k = retried if i % 2 == 0 else key()  # half are retries of one request
        return ok(visit(own, s, c, k))  # type: ignore[no-any-return]

    answers = _together(url, 50, call)
    retries = [a for i, a in enumerate(answers) if i % 2 == 0]
    fresh = [a for i, a in enumerate(answers) if i % 2 == 1]
    assert all(a == retries[0] for a in retries)  # one key, one answer
    # One decision credited: either the retried key's (all 25 see it) or one fresh key's.
    decisions = [retries[0], *fresh]
    assert [d["credited"] for d in decisions].count(True) == 1
    assert {d["reason"] for d in decisions if not d["credited"]} == {"cooldown"}
    assert points(live, s) == 10
    with any_db.read() as sess:
        assert derived_points(sess, s.business, c) == 10


def test_two_concurrent_spends_over_the_balance_one_wins(live: httpx.Client,
                                                         any_db: Database) -> None:
    s = seed(live, visit_points=60, cost=50)
    c = register(live, s)["customer"]
    ok(visit(live, s, c))
    url = str(live.base_url)

    def spend(own: httpx.Client, _: int) -> httpx.Response:
        return own.post(f"/api/v1/rewards/{s.reward}/redeem", headers=s.kiosk_h,
                        json={"customer": c, "idempotency_key": key()})

    for _ in range(3):  # a few rounds: a race that passes once by luck passes every time here
        rs = _together(url, 2, spend)
        assert sorted(r.status_code for r in rs) in ([201, 409], [409, 409])
        if [r.status_code for r in rs].count(201):
            break
    wins = [r for r in rs if r.status_code == 201]
    assert len(wins) == 1
    assert wins[0].json()["balance"] == 10
    lost = next(r for r in rs if r.status_code == 409).json()["detail"]
    assert lost == {"reason": "insufficient_points", "balance": 10, "cost": 50}
    assert points(live, s) == 10
    series = ok(live.get(f"/api/v1/series/{s.series}",
                         headers={"Authorization": "Bearer admin-token-for-tests"}))
    assert series["issued_count"] == 1
    with any_db.read() as sess:
        assert derived_points(sess, s.business, c) == 10


def test_racing_registrations_and_closes_count_once(live: httpx.Client, any_db: Database) -> None:
    s = seed(live, visit_points=0, per_amount="0.1", welcome=7)
    url = str(live.base_url)

    def reg(own: httpx.Client, _: int) -> httpx.Response:
        return own.post("/api/v1/customers", headers=s.kiosk_h,
                        json={"phone": "067 123 45 67", "consent": True,
                              "businesses": [s.business]})

    rs = _together(url, 8, reg)
    assert sorted(r.status_code for r in rs) == [200] * 7 + [201]
    assert len({r.json()["customer"] for r in rs}) == 1
    c = rs[0].json()["customer"]
    check = ok(live.post("/api/v1/checks", headers=s.kiosk_h,
                         json={"customer": c, "business": s.business, "idempotency_key": key(),
                               "lines": [{"item": s.latte, "qty": 4}]}), 201)

    def close(own: httpx.Client, _: int) -> httpx.Response:
        return own.post(f"/api/v1/register/checks/{check['check']}/close", json={"paid": True},
                        headers=s.register_h)

    closes = _together(url, 8, close)
    assert {r.status_code for r in closes} == {200}
    assert {r.json()["points"] for r in closes} == {22}
    summary = ok(live.post("/api/v1/kiosk/identify", headers=s.register_h,
                           json={"phone": "+380671234567", "businesses": [s.business]}))
    assert summary["balances"][0]["points"] == 22
    assert summary["balances"][0]["bonus_points"] == 7  # the welcome bonus once
    with any_db.read() as sess:
        assert derived_points(sess, s.business, c) == 22
