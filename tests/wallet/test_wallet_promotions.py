"""Promotions: operators post news with an optional coupon; kiosks list the running ones; a
customer gets a promotion's coupon once (SQLite and PostgreSQL)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
from fastapi.testclient import TestClient
from loyaltykit import ADMIN_H, key, ok, register, seed, token, visit
from sqlalchemy import select

from hub.db import Database
from hub.loyalty import ledger
from hub.models import Code, Series
from venue.clock import FakeClock
from venue.messages import rfc3339


def _promo(c: httpx.Client, business: int, h: dict[str, str] = ADMIN_H, **kw: object) -> dict:
    body = {"business": business, "title": "Happy hour", "text": "Two for one", **kw}
    return ok(c.post("/api/v1/promotions", json=body, headers=h), 201)  # type: ignore[no-any-return]


def test_operator_posts_kiosk_lists_running_newest_first(client: TestClient,
                                                         clock: FakeClock) -> None:
    s = seed(client)
    op = token(client, "operator", "op1")
    now = clock.now()
    old = _promo(client, s.business, op, title="Old news")
    clock.advance(60)
    new = _promo(client, s.business, op, series=s.series, cost=0, title="Free coffee day")
    _promo(client, s.business, op, title="Future", starts_at=rfc3339(now + timedelta(days=2)))
    _promo(client, s.business, op, title="Over", starts_at=rfc3339(now - timedelta(days=2)),
           ends_at=rfc3339(now - timedelta(days=1)))
    got = ok(client.get("/api/v1/promotions", params={"business": s.business},
                        headers=s.kiosk_h))["promotions"]
    assert [p["id"] for p in got] == [new["id"], old["id"]]
    assert got[0]["coupon"] == {"series": s.series, "name": "Free coffee", "cost": 0}
    assert got[1]["coupon"] is None and got[0]["ends_at"] is None
    # the operator sees all four; a kiosk asking for all still sees the running ones only
    assert len(ok(client.get("/api/v1/promotions?all=true", headers=op))["promotions"]) == 4
    assert len(ok(client.get("/api/v1/promotions?all=true",
                             headers=s.kiosk_h))["promotions"]) == 2
    # withdrawn: gone for the kiosk
    ok(client.delete(f"/api/v1/promotions/{new['id']}", headers=op))
    got = ok(client.get("/api/v1/promotions", headers=s.kiosk_h))["promotions"]
    assert [p["id"] for p in got] == [old["id"]]
    # a kiosk may not post; bad input is a 422 naming the field; unknown ids 404
    assert client.post("/api/v1/promotions", json={"business": s.business, "title": "x"},
                       headers=s.kiosk_h).status_code == 403
    r = client.post("/api/v1/promotions", json={"business": s.business, "title": ""},
                    headers=op)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "title"
    assert client.post("/api/v1/promotions", json={"business": 999, "title": "x"},
                       headers=op).status_code == 404
    assert client.post("/api/v1/promotions", json={"business": s.business, "title": "x",
                                                   "series": 999}, headers=op).status_code == 404
    assert client.put("/api/v1/promotions/999", json={"business": s.business, "title": "x"},
                      headers=op).status_code == 404


def test_claimed_twice_is_issued_once(client: TestClient, db: Database) -> None:
    s = seed(client)
    c = register(client, s)["customer"]
    p = _promo(client, s.business, series=s.series)
    k = key()
    first = ok(client.post(f"/api/v1/promotions/{p['id']}/claim", headers=s.kiosk_h,
                           json={"customer": c, "idempotency_key": k}), 201)
    assert first["coupon"]["series"] == s.series and first["balance"] == 0
    again = ok(client.post(f"/api/v1/promotions/{p['id']}/claim", headers=s.kiosk_h,
                           json={"customer": c, "idempotency_key": k}), 201)
    assert again == first
    r = client.post(f"/api/v1/promotions/{p['id']}/claim", headers=s.kiosk_h,
                    json={"customer": c, "idempotency_key": key()})
    assert r.status_code == 409 and r.json()["detail"]["reason"] == "already_claimed"
    with db.read() as ses:
        assert ses.get(Series, s.series).issued_count == 1  # type: ignore[union-attr]
        held = list(ses.scalars(select(Code.ref).where(Code.customer_id == c)))
    assert held == [first["coupon"]["ref"]]


def test_claim_for_points_spends_once_and_refuses_when_short(client: TestClient,
                                                             db: Database,
                                                             clock: FakeClock) -> None:
    s = seed(client, visit_points=30, cooldown_s=0)
    c = register(client, s)["customer"]
    p = _promo(client, s.business, series=s.series, cost=50)
    ok(visit(client, s, c))
    r = client.post(f"/api/v1/promotions/{p['id']}/claim", headers=s.kiosk_h,
                    json={"customer": c, "idempotency_key": key()})
    assert r.status_code == 409
    assert r.json()["detail"] == {"reason": "insufficient_points", "balance": 30, "cost": 50}
    ok(visit(client, s, c))
    k = key()
    out = ok(client.post(f"/api/v1/promotions/{p['id']}/claim", headers=s.kiosk_h,
                         json={"customer": c, "idempotency_key": k}), 201)
    assert out["balance"] == 10
    ok(client.post(f"/api/v1/promotions/{p['id']}/claim", headers=s.kiosk_h,
                   json={"customer": c, "idempotency_key": k}), 201)
    with db.read() as ses:
        assert ledger.derived_points(ses, s.business, c) == 10


def test_claim_refusals(client: TestClient, clock: FakeClock) -> None:
    s = seed(client)
    c = register(client, s)["customer"]
    news = _promo(client, s.business)
    ends = rfc3339(clock.now() + timedelta(hours=1))
    short = _promo(client, s.business, series=s.series, ends_at=ends)

    def claim(pid: int, customer: str = c) -> httpx.Response:
        return client.post(f"/api/v1/promotions/{pid}/claim", headers=s.kiosk_h,
                           json={"customer": customer, "idempotency_key": key()})

    assert claim(news["id"]).json()["detail"]["reason"] == "no_coupon"
    clock.advance(7200)
    r = claim(short["id"])
    assert r.status_code == 409 and r.json()["detail"]["reason"] == "ended"
    assert claim(999).status_code == 404
    assert claim(news["id"], "c_0000000000000000").status_code == 404
    assert client.post(f"/api/v1/promotions/{news['id']}/claim", headers=s.kiosk_h,
                       json={"customer": "+380671234567",
                             "idempotency_key": key()}).status_code == 422


def test_concurrent_claims_issue_one_coupon(live: httpx.Client, db: Database) -> None:
    s = seed(live, visit_points=100)
    c = register(live, s)["customer"]
    ok(visit(live, s, c))
    p = _promo(live, s.business, series=s.series, cost=40)

    def claim(i: int) -> int:
        return live.post(f"/api/v1/promotions/{p['id']}/claim", headers=s.kiosk_h,
                         json={"customer": c, "idempotency_key": f"k{i % 3}"}).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(claim, range(12)))
    assert codes.count(409) == 8 and codes.count(201) == 4  # the winner's key, four times
    with db.read() as ses:
        assert ledger.derived_points(ses, s.business, c) == 60
        assert ses.get(Series, s.series).issued_count == 1  # type: ignore[union-attr]


def test_series_given_through_the_wallet_by_business(client: TestClient, db: Database) -> None:
    from hub.wallet.promotions import series_businesses

    s = seed(client)
    _promo(client, s.business, series=s.series)
    other = ok(client.post("/api/v1/businesses", json={"name": "Bar"}, headers=ADMIN_H), 201)
    bday = ok(client.post("/api/v1/series", headers=ADMIN_H,
                          json={"name": "Birthday cake", "kind": "coupon"}), 201)["id"]
    ok(client.put(f"/api/v1/businesses/{other['id']}/wallet-rules", headers=ADMIN_H,
                  json={"birthday_series": bday}))
    with db.read() as ses:
        assert series_businesses(ses, [s.business, other["id"]]) == {s.series: s.business,
                                                                     bday: other["id"]}
        assert series_businesses(ses, [s.business]) == {s.series: s.business}
        assert series_businesses(ses, []) == {}
