"""Tickets sold through the catalog (one code per unit, to the check's customer, once however
often the close is retried; sales per outlet) and coupons applied when a check closes (redeemed
once, accrual on the discounted total). SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
from fastapi.testclient import TestClient
from loyaltykit import ADMIN_H, Seeded, key, ok, register, seed, token
from sqlalchemy import func, select

from hub.db import Database
from hub.loyalty.sales import Benefit, discount
from hub.models import Code
from venue.clock import FakeClock

PHONE = "+380671234567"
D = Decimal


def series(c: httpx.Client | TestClient, name: str, limit: int = 100, entries: int = 1,
           kind: str = "ticket") -> int:
    return int(ok(c.post("/api/v1/series", headers=ADMIN_H,
                         json={"name": name, "kind": kind, "issue_limit": limit,
                               "entries_per_code": entries}), 201)["id"])


def ticket_item(c: httpx.Client | TestClient, s: Seeded, sid: int, price: str = "300.00",
                name: str = "Concert") -> int:
    item = ok(c.post("/api/v1/catalog/items", headers=ADMIN_H,
                     json={"business": s.business, "category": s.category, "name": name,
                           "price": price}), 201)["id"]
    assert ok(c.put(f"/api/v1/catalog/items/{item}/series", headers=ADMIN_H,
                    json={"series": sid})) == {"item": item, "series": sid}
    return int(item)


def submit(c: httpx.Client | TestClient, s: Seeded, cust: str | None,
           lines: list[tuple[int, int]], coupons: list[str] | None = None) -> httpx.Response:
    body: dict[str, Any] = {"customer": cust, "business": s.business, "idempotency_key": key(),
                            "lines": [{"item": i, "qty": n} for i, n in lines]}
    if coupons is not None:
        body["coupons"] = coupons
    return c.post("/api/v1/checks", headers=s.kiosk_h, json=body)


def close(c: httpx.Client | TestClient, h: dict[str, str], check: int,
          **body: Any) -> httpx.Response:
    return c.post(f"/api/v1/register/checks/{check}/close", headers=h,
                  json={"paid": True, **body})


def summary(c: httpx.Client | TestClient, s: Seeded, phone: str = PHONE) -> dict[str, Any]:
    return ok(c.post("/api/v1/kiosk/identify", headers=s.register_h,  # type: ignore[no-any-return]
                     json={"phone": phone, "businesses": [s.business]}))


def test_discount_arithmetic() -> None:
    lines = [(1, 1, D("55.00")), (2, 2, D("49.90"))]  # 154.80
    assert discount(lines, []).amount == D("0.00")
    free_cake = Benefit("a", "item", D(0), 2)
    ten = Benefit("b", "percent", D("10"), None)
    twenty = Benefit("c", "amount", D("20"), None)
    # the free cake first, then 20 off, then 10% of what is left: 49.90 + 20 + 8.49
    assert discount(lines, [ten, twenty, free_cake]).amount == D("78.39")
    assert discount(lines, [free_cake, free_cake]).amount == D("99.80")
    refused = discount(lines, [free_cake, free_cake, free_cake])
    assert (refused.reason, refused.ref) == ("coupon_not_applicable", "a")
    assert discount(lines, [Benefit("d", "amount", D("500"), None)]).amount == D("154.80")
    assert discount([(1, 1, D("0.05"))], [Benefit("e", "percent", D("50"), None)]).amount == \
        D("0.03")  # half up


def test_tickets_are_issued_once_per_unit_and_counted_per_outlet(
        client: TestClient, db: Database, clock: FakeClock) -> None:
    s = seed(client, per_amount="0.1")
    concert = series(client, "Concert")
    item = ticket_item(client, s, concert)
    cust = register(client, s)["customer"]
    r = submit(client, s, None, [(item, 1)])
    assert r.status_code == 409 and r.json()["detail"] == {"reason": "customer_required",
                                                            "items": [item]}
    check = ok(submit(client, s, cust, [(item, 2), (s.latte, 1)]), 201)
    assert check["tickets"] == [] and check["total"] == "655.00"
    closed = ok(close(client, s.register_h, check["check"]))
    assert len(closed["tickets"]) == 2 and closed["points"] == 65
    # a retried close changes nothing and issues nothing more
    assert ok(close(client, s.register_h, check["check"])) == closed
    with db.read() as sess:
        assert sess.scalar(select(func.count()).select_from(Code).where(
            Code.series_id == concert, Code.customer_id == cust)) == 2
    coupons = [c for c in summary(client, s)["coupons"] if c["series"] == concert]
    assert sorted(c["ref"] for c in coupons) == sorted(closed["tickets"])
    assert all(c["code"] for c in coupons)  # a ticket shows its code (visibility: always)
    # another register (outlet) sells one more
    pos2 = token(client, "register", "pos2")
    other = ok(submit(client, s, cust, [(item, 1)]), 201)
    ok(close(client, pos2, other["check"]))
    sales = ok(client.get(f"/api/v1/businesses/{s.business}/ticket-sales",
                          headers=s.register_h))
    today = clock.now().date().isoformat()
    assert sales == [{"day": today, "outlet": "pos1", "tickets": 2, "total": "600.00"},
                     {"day": today, "outlet": "pos2", "tickets": 1, "total": "300.00"}]
    # a cancelled check issues nothing
    cancelled = ok(submit(client, s, cust, [(item, 1)]), 201)["check"]
    assert ok(client.post(f"/api/v1/register/checks/{cancelled}/close", headers=s.register_h,
                          json={"paid": False}))["tickets"] == []
    with db.read() as sess:
        assert sess.scalar(select(func.count()).select_from(Code).where(
            Code.series_id == concert)) == 3


def test_sold_out_is_refused_at_submission(client: TestClient) -> None:
    s = seed(client)
    item = ticket_item(client, s, series(client, "Tiny", limit=2))
    cust = register(client, s)["customer"]
    r = submit(client, s, cust, [(item, 3)])
    assert r.status_code == 409 and r.json()["detail"] == {"reason": "sold_out",
                                                            "items": [item]}
    first = ok(submit(client, s, cust, [(item, 2)]), 201)["check"]
    second = ok(submit(client, s, cust, [(item, 1)]), 201)["check"]  # both fit when queued
    ok(close(client, s.register_h, first))
    r = close(client, s.register_h, second)  # the series ran out: the check stays queued
    assert r.status_code == 409 and r.json()["detail"]["reason"] == "unavailable"
    queue = ok(client.get(f"/api/v1/register/checks?business={s.business}",
                          headers=s.register_h))
    assert [q["check"] for q in queue] == [second]
    assert ok(client.put(f"/api/v1/catalog/items/{item}/series", headers=ADMIN_H,
                         json={"series": None})) == {"item": item, "series": None}
    assert client.put("/api/v1/catalog/items/999999/series", headers=ADMIN_H,
                      json={"series": None}).status_code == 404


def give(c: TestClient, s: Seeded, cust: str, sids: list[int]) -> list[str]:
    """Coupons into the customer's wallet (through a gift set)."""
    gs = ok(c.post("/api/v1/giftsets", headers=ADMIN_H,
                   json={"business": s.business, "name": "Pack", "series": sids}), 201)["id"]
    code = ok(c.post(f"/api/v1/giftsets/{gs}/codes", headers=ADMIN_H, json={"count": 1}),
              201)["codes"][0]
    got = ok(c.post("/api/v1/giftsets/redeem", headers=s.kiosk_h,
                    json={"customer": cust, "code": code, "idempotency_key": key()}), 201)
    return [x["ref"] for x in got["coupons"]]


def test_coupons_apply_once_and_accrual_uses_the_discounted_total(
        client: TestClient, db: Database) -> None:
    s = seed(client, per_amount="0.1")
    free_cake = series(client, "Free cake", kind="coupon")
    ten = series(client, "10% off", kind="coupon")
    ok(client.put(f"/api/v1/coupon-benefits/{free_cake}", headers=ADMIN_H,
                  json={"business": s.business, "kind": "item", "item": s.cake}))
    got = ok(client.put(f"/api/v1/coupon-benefits/{ten}", headers=ADMIN_H,
                        json={"business": s.business, "kind": "percent", "value": "10"}))
    assert got == {"series": ten, "business": s.business, "kind": "percent", "value": "10.00",
                   "item": None}
    cust = register(client, s)["customer"]
    cake_ref, ten_ref = give(client, s, cust, [free_cake, ten])
    # the free cake is not on a latte-only check
    r = submit(client, s, cust, [(s.latte, 1)], [cake_ref])
    assert r.status_code == 409 and r.json()["detail"] == {"reason": "coupon_not_applicable",
                                                            "coupon": cake_ref}
    check = ok(submit(client, s, cust, [(s.latte, 1), (s.cake, 1)], [cake_ref]), 201)
    assert (check["total"], check["discount"], check["to_pay"]) == ("104.90", "49.90", "55.00")
    # the register adds the 10% coupon: 49.90 + 5.50 off, 49.50 paid, 4 points
    closed = ok(close(client, s.register_h, check["check"], coupons=[ten_ref]))
    assert closed["coupons"] == [cake_ref, ten_ref]
    assert (closed["discount"], closed["to_pay"], closed["points"]) == ("55.40", "49.50", 4)
    assert ok(close(client, s.register_h, check["check"], coupons=[ten_ref])) == closed
    assert summary(client, s)["coupons"] == []  # both used
    with db.read() as sess:
        used = {c.ref: c.entries_used for c in sess.scalars(
            select(Code).where(Code.ref.in_([cake_ref, ten_ref])))}
    assert used == {cake_ref: 1, ten_ref: 1}
    # used coupons are refused on another check, at submission and at close
    r = submit(client, s, cust, [(s.cake, 1)], [cake_ref])
    assert r.status_code == 409 and r.json()["detail"]["why"] == "used"
    again = ok(submit(client, s, cust, [(s.cake, 1)]), 201)["check"]
    r = close(client, s.register_h, again, coupons=[ten_ref])
    assert r.status_code == 409 and r.json()["detail"] == {
        "reason": "coupon_invalid", "coupon": ten_ref, "why": "used"}


def test_coupon_rules_and_prepaid_pays_the_discounted_total(client: TestClient) -> None:
    s = seed(client)
    twenty = series(client, "20 off", kind="coupon")
    plain = series(client, "No benefit", kind="coupon")
    ok(client.put(f"/api/v1/coupon-benefits/{twenty}", headers=ADMIN_H,
                  json={"business": s.business, "kind": "amount", "value": "20.00"}))
    for bad in ({"kind": "percent", "value": "0"}, {"kind": "percent", "value": "101"},
                {"kind": "item"}, {"kind": "amount", "value": 5}, {"kind": "gift"}):
        r = client.put(f"/api/v1/coupon-benefits/{twenty}", headers=ADMIN_H,
                       json={"business": s.business, **bad})
        assert r.status_code == 422, bad
    cust = register(client, s)["customer"]
    other = register(client, s, "+380671234568")["customer"]
    mine, nothing = give(client, s, cust, [twenty, plain])
    theirs = give(client, s, other, [twenty])[0]
    for ref, why in ((theirs, "not_yours"), (nothing, "no_benefit_here"),
                     ("999:1", "unknown")):
        r = submit(client, s, cust, [(s.latte, 1)], [ref])
        assert r.status_code == 409 and r.json()["detail"]["why"] == why, ref
    r = submit(client, s, None, [(s.latte, 1)], [mine])
    assert r.json()["detail"]["reason"] == "customer_required"
    r = submit(client, s, cust, [(s.latte, 1)], ["not a ref!"])
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][:2] == ["body", "coupons"]
    ok(client.post("/api/v1/prepaid/topup", headers=s.register_h,
                   json={"customer": cust, "business": s.business, "amount": "40.00",
                         "idempotency_key": key()}), 201)
    check = ok(submit(client, s, cust, [(s.latte, 1)], [mine]), 201)["check"]
    closed = ok(close(client, s.register_h, check, payment="prepaid"))
    assert closed["to_pay"] == "35.00"
    assert summary(client, s)["balances"][0]["prepaid"] == "5.00"


def test_purchase_limits_of_the_series_apply_at_submission_and_close(client: TestClient) -> None:
    s = seed(client)
    sid = series(client, "Final")
    ok(client.put(f"/api/v1/series/{sid}/sales-rules", headers=ADMIN_H,
                  json={"per_order_limit": 2, "per_customer_limit": 3}))
    item = ticket_item(client, s, sid)
    cust = register(client, s)["customer"]
    r = submit(client, s, cust, [(item, 3)])
    assert r.status_code == 409 and r.json()["detail"]["reason"] == "per_order_limit"
    ok(close(client, s.register_h, ok(submit(client, s, cust, [(item, 2)]), 201)["check"]))
    r = submit(client, s, cust, [(item, 2)])
    detail = r.json()["detail"]
    assert r.status_code == 409 and (detail["reason"], detail["held"], detail["limit"],
                                     detail["series"]) == ("per_customer_limit", 2, 3, sid)
    # two queued checks of one each both fit when submitted; the second close passes the limit
    a = ok(submit(client, s, cust, [(item, 1)]), 201)["check"]
    b = ok(submit(client, s, cust, [(item, 1)]), 201)["check"]
    ok(close(client, s.register_h, a))
    r = close(client, s.register_h, b)
    assert r.status_code == 409 and r.json()["detail"]["reason"] == "per_customer_limit"
