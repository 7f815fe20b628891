"""Prepaid balance: top-ups at the register (decimal strings, exact), paying a check with it at
close, overdraft refused with 409 ``insufficient_prepaid`` and nothing written (SQLite and
PostgreSQL; racing payments over real HTTP)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx
from fastapi.testclient import TestClient
from loyaltykit import Seeded, key, ok, register, seed
from sqlalchemy import func, select

from hub.db import Database
from hub.loyalty.models import LedgerEntry, Member
from hub.loyalty.prepaid import decide_payment

PHONE = "+380671234567"


def topup(c: httpx.Client | TestClient, s: Seeded, cust: str, amount: Any,
          k: str | None = None) -> httpx.Response:
    return c.post("/api/v1/prepaid/topup", headers=s.register_h,
                  json={"customer": cust, "business": s.business, "amount": amount,
                        "idempotency_key": k or key()})


def balance(c: httpx.Client | TestClient, s: Seeded) -> tuple[str, int]:
    summary = ok(c.post("/api/v1/kiosk/identify", headers=s.register_h,
                        json={"phone": PHONE, "businesses": [s.business]}))
    return summary["balances"][0]["prepaid"], summary["balances"][0]["points"]


def check(c: httpx.Client | TestClient, s: Seeded, cust: str, qty: int = 2) -> int:
    return int(ok(c.post("/api/v1/checks", headers=s.kiosk_h,
                         json={"customer": cust, "business": s.business, "idempotency_key": key(),
                               "lines": [{"item": s.latte, "qty": qty}]}), 201)["check"])


def audit(db: Database, business: int, cust: str) -> Decimal:
    """The materialised prepaid balance, checked against the ledger's sum."""
    with db.read() as sess:
        member = sess.get(Member, (business, cust))
        assert member is not None
        total = sess.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.business_id == business, LedgerEntry.customer_id == cust,
            LedgerEntry.account == "prepaid"))
        assert Decimal(total or 0).quantize(Decimal("0.01")) == member.prepaid
        return member.prepaid


def test_payment_decision_is_pure() -> None:
    assert decide_payment(Decimal("10.00"), Decimal("10.00")).ok
    assert decide_payment(Decimal("9.99"), Decimal("10.00")).reason == "insufficient_prepaid"
    assert decide_payment(Decimal("10.00"), Decimal("-1")).reason == "bad_amount"


def test_topup_pay_at_close_and_overdraft(client: TestClient, db: Database) -> None:
    s = seed(client, per_amount="0.1")
    cust = register(client, s)["customer"]
    k = key()
    first = ok(topup(client, s, cust, "150.10", k), 201)
    assert first["prepaid"] == "150.10" and first["amount"] == "150.10"
    assert ok(topup(client, s, cust, "150.10", k), 201) == first  # a retried top-up
    ok(topup(client, s, cust, "0.01"), 201)
    assert balance(client, s) == ("150.11", 0)
    # 2 lattes = 110.00 from prepaid: 40.11 left, points on what was paid
    paid = ok(client.post(f"/api/v1/register/checks/{check(client, s, cust)}/close",
                          headers=s.register_h, json={"paid": True, "payment": "prepaid"}))
    assert paid["status"] == "paid" and paid["payment"] == "prepaid"
    assert paid["to_pay"] == "110.00" and paid["points"] == 11
    assert balance(client, s) == ("40.11", 11)
    # too little left: 409, the check stays queued, nothing moves
    second = check(client, s, cust)
    r = client.post(f"/api/v1/register/checks/{second}/close", headers=s.register_h,
                    json={"paid": True, "payment": "prepaid"})
    assert r.status_code == 409
    assert r.json()["detail"] == {"reason": "insufficient_prepaid", "prepaid": "40.11",
                                  "amount": "110.00"}
    queue = ok(client.get(f"/api/v1/register/checks?business={s.business}",
                          headers=s.register_h))
    assert [q["check"] for q in queue] == [second]
    assert balance(client, s) == ("40.11", 11)
    # paid another way, it closes; the prepaid balance is untouched
    ok(client.post(f"/api/v1/register/checks/{second}/close", headers=s.register_h,
                   json={"paid": True}))
    assert balance(client, s) == ("40.11", 22)
    assert audit(db, s.business, cust) == Decimal("40.11")


def test_bad_amounts_and_roles(client: TestClient) -> None:
    s = seed(client)
    cust = register(client, s)["customer"]
    for bad in (10.5, 10, "10.005", "-1", "0", "0.00", "1e3", "", "12345678901"):
        r = topup(client, s, cust, bad)
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["detail"][0]["loc"][:2] in (["body", "amount"], ["body"]), bad
    assert client.post("/api/v1/prepaid/topup", headers=s.kiosk_h,
                       json={"customer": cust, "business": s.business, "amount": "1.00",
                             "idempotency_key": key()}).status_code == 403
    r = topup(client, s, "c_0000000000000000", "1.00")
    assert r.status_code == 404
    anonymous = ok(client.post("/api/v1/checks", headers=s.kiosk_h,
                               json={"business": s.business, "idempotency_key": key(),
                                     "lines": [{"item": s.cake, "qty": 1}]}), 201)["check"]
    r = client.post(f"/api/v1/register/checks/{anonymous}/close", headers=s.register_h,
                    json={"paid": True, "payment": "prepaid"})
    assert r.status_code == 409 and r.json()["detail"]["reason"] == "customer_required"
    r = client.post(f"/api/v1/register/checks/{anonymous}/close", headers=s.register_h,
                    json={"paid": True, "payment": "card"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "payment"]


def test_racing_prepaid_payments_never_overdraw(live: httpx.Client, any_db: Database) -> None:
    s = seed(live)
    cust = register(live, s)["customer"]
    ok(topup(live, s, cust, "200.00"), 201)
    checks = [check(live, s, cust) for _ in range(4)]  # 4 x 110.00 against 200.00

    def close(cid: int) -> int:
        with httpx.Client(base_url=str(live.base_url), timeout=30) as c:
            return c.post(f"/api/v1/register/checks/{cid}/close", headers=s.register_h,
                          json={"paid": True, "payment": "prepaid"}).status_code

    with ThreadPoolExecutor(4) as pool:
        statuses = sorted(pool.map(close, checks))
    assert statuses == [200, 409, 409, 409]
    assert audit(any_db, s.business, cust) == Decimal("90.00")
