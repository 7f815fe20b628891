"""Racing requests over a real uvicorn on SQLite and PostgreSQL: quotas, per-customer limits,
idempotency keys, period closes and transfers each hold under concurrency."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx
from hubkit import ADMIN_H
from outletkit import customer, key, ok, outlet, sell, series, token

THREADS = 8


def race(client: httpx.Client, n: int, fn: Callable[[httpx.Client, int], Any]) -> list[Any]:
    """Run ``fn`` ``n`` times at once, each on its own connection, released together."""
    gate = threading.Barrier(n)

    def one(i: int) -> Any:
        with httpx.Client(base_url=str(client.base_url), timeout=60) as c:
            gate.wait()
            return fn(c, i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def test_racing_sales_never_pass_the_quota(live: httpx.Client) -> None:
    sid = series(live)
    h = outlet(live, "race1", (sid, 10, "5.00"))
    out = race(live, 12, lambda c, i: sell(c, h, sid, 2))
    counts = Counter(s.status for s in out)
    assert counts == {201: 5, 409: 7}, counts
    assert {s.body["detail"]["reason"] for s in out if s.status == 409} == {"quota_exceeded"}
    assert ok(live.get("/api/v1/outlet/series", headers=h))[0]["sold"] == 10
    assert ok(live.get(f"/api/v1/series/{sid}", headers=ADMIN_H))["issued_count"] == 10
    refs = [r for s in out if s.status == 201 for r in s.body["refs"]]
    assert len(set(refs)) == 10


def test_racing_sales_to_one_customer_stop_at_the_limit(live: httpx.Client) -> None:
    sid = series(live, per_customer_limit=3)
    h1 = outlet(live, "race2", (sid, 100, "5.00"))
    h2 = outlet(live, "race3", (sid, 100, "5.00"))
    cid = customer(live, "+380671234567")
    out = race(live, THREADS, lambda c, i: sell(c, h1 if i % 2 else h2, sid, 1, customer=cid))
    counts = Counter(s.status for s in out)
    assert counts == {201: 3, 409: THREADS - 3}, counts
    assert {s.body["detail"]["reason"] for s in out if s.status == 409} == {"per_customer_limit"}


def test_one_idempotency_key_sells_once(live: httpx.Client) -> None:
    sid = series(live)
    h = outlet(live, "race4", (sid, 100, "5.00"))
    k = key()
    out = race(live, THREADS, lambda c, i: sell(c, h, sid, 3, k, customer_phone="+380501112233"))
    assert Counter(s.status for s in out) == {201: 1, 200: THREADS - 1}
    assert len({s.body["id"] for s in out}) == 1
    assert ok(live.get("/api/v1/outlet/series", headers=h))[0]["sold"] == 3


def test_racing_closes_bill_each_sale_once(live: httpx.Client) -> None:
    sid = series(live)
    h = outlet(live, "race5", (sid, 100, "12.50"))
    for _ in range(4):
        assert sell(live, h, sid, 1).status == 201
    op = token(live, "operator", "op1")
    out = race(live, THREADS, lambda c, i: c.post("/api/v1/outlets/race5/invoices", headers=op,
                                                  json={"idempotency_key": key()}))
    codes = Counter(r.status_code for r in out)
    assert codes == {201: 1, 409: THREADS - 1}, codes
    (inv,) = [r.json() for r in out if r.status_code == 201]
    assert inv["total"] == "50.00" and inv["item_count"] == 4
    assert ok(live.get("/api/v1/outlets/race5/open-items", headers=op))["count"] == 0
    same = key()
    sell(live, h, sid, 2)
    out = race(live, 4, lambda c, i: c.post("/api/v1/outlets/race5/invoices", headers=op,
                                            json={"idempotency_key": same}))
    assert Counter(r.status_code for r in out) == {201: 1, 200: 3}
    assert len({r.json()["id"] for r in out}) == 1
    assert len(ok(live.get("/api/v1/outlets/race5/invoices", headers=op))) == 2


def test_racing_transfers_move_a_ticket_once(live: httpx.Client) -> None:
    sid = series(live)
    h = outlet(live, "race6", (sid, 100, "5.00"))
    ref = sell(live, h, sid, 1, customer_phone="+380671234567").body["refs"][0]
    phones = [f"+38050111{i:04d}" for i in range(THREADS)]
    friends = [customer(live, p) for p in phones]
    reg = token(live, "register", "r1")
    out = race(live, THREADS, lambda c, i: c.post(
        f"/api/v1/tickets/{ref}/transfer", headers=reg,
        json={"to_customer": friends[i], "idempotency_key": key()}))
    assert Counter(r.status_code for r in out) == {201: 1, 409: THREADS - 1}
    assert len(ok(live.get("/api/v1/transfers", headers=ADMIN_H))) == 1
    assert ok(live.get(f"/api/v1/series/{sid}", headers=ADMIN_H))["issued_count"] == 2


def test_sales_racing_closes_are_each_billed_exactly_once(live: httpx.Client) -> None:
    sid = series(live)
    h = outlet(live, "race7", (sid, 100, "7.00"))
    op = token(live, "operator", "op1")

    def act(c: httpx.Client, i: int) -> Any:
        if i % 3 == 0:
            return c.post("/api/v1/outlets/race7/invoices", headers=op,
                          json={"idempotency_key": key()})
        return sell(c, h, sid, 1 + i % 2, paid_now=i == 1)

    out = race(live, 9, act)
    sold = [s.body for s in out if not isinstance(s, httpx.Response)]
    assert all("id" in s for s in sold) and len(sold) == 6
    live.post("/api/v1/outlets/race7/invoices", headers=op, json={"idempotency_key": key()})
    invs = ok(live.get("/api/v1/outlets/race7/invoices", headers=op))
    billed: list[int] = []
    for inv in invs:
        lines = ok(live.get(f"/api/v1/outlets/race7/invoices/{inv['id']}", headers=op))["lines"]
        billed += [x["sale"] for x in lines]
        assert sum(Decimal(x["amount"]) for x in lines) == Decimal(inv["total"])
    unpaid = [s for s in sold if not s["paid_now"]]
    assert sorted(billed) == sorted(s["id"] for s in unpaid)  # each once, paid ones never
    assert sum(Decimal(i["total"]) for i in invs) == sum(Decimal(s["amount"]) for s in unpaid)
    assert ok(live.get("/api/v1/outlets/race7/open-items", headers=op))["count"] == 0


def test_a_sale_ends_cancelled_or_invoiced_never_both(live: httpx.Client) -> None:
    sid = series(live)
    h = outlet(live, "race8", (sid, 100, "3.00"))
    ids = [sell(live, h, sid, 1).body["id"] for _ in range(4)]

    def act(c: httpx.Client, i: int) -> httpx.Response:
        if i % 2:
            return c.post(f"/api/v1/outlet/sales/{ids[i // 2]}/cancel", headers=h)
        return c.post("/api/v1/outlets/race8/invoices", headers=ADMIN_H,
                      json={"idempotency_key": key()})

    out = race(live, 8, act)
    assert all(r.status_code in (200, 201, 409) for r in out), [r.text for r in out]
    billed = set()
    for inv in ok(live.get("/api/v1/outlets/race8/invoices", headers=ADMIN_H)):
        lines = ok(live.get(f"/api/v1/outlets/race8/invoices/{inv['id']}", headers=ADMIN_H))
        billed |= {x["sale"] for x in lines["lines"]}
    statuses = {s["id"]: s["status"] for s in ok(live.get("/api/v1/outlet/sales", headers=h))}
    cancelled = {i for i, st in statuses.items() if st == "cancelled"}
    assert cancelled.isdisjoint(billed) and cancelled | billed == set(ids)
    sold = ok(live.get("/api/v1/outlet/series", headers=h))[0]["sold"]
    assert sold == len(ids) - len(cancelled)
