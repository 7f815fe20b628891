"""Gift sets: one code gives several coupons, once (SQLite and PostgreSQL)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
from fastapi.testclient import TestClient
from loyaltykit import ADMIN_H, ok, register, seed
from sqlalchemy import func, select

from hub.db import Database
from hub.loyalty.gift_models import GiftCode
from hub.models import Code

PHONE = "+380671234567"


def series(c: httpx.Client | TestClient, name: str, limit: int = 100, entries: int = 1) -> int:
    return int(ok(c.post("/api/v1/series", headers=ADMIN_H,
                         json={"name": name, "kind": "coupon", "issue_limit": limit,
                               "entries_per_code": entries}), 201)["id"])


def wallet(c: httpx.Client | TestClient, h: dict[str, str], business: int) -> list[str]:
    summary = ok(c.post("/api/v1/kiosk/identify", headers=h,
                        json={"phone": PHONE, "businesses": [business]}))
    return [f"{x['series']}:{x['name']}" for x in summary["coupons"]]


def test_a_set_code_gives_all_its_coupons_once(client: TestClient, db: Database) -> None:
    s = seed(client)
    cookie, cinema = series(client, "Cookie"), series(client, "Cinema x2", entries=2)
    gs = ok(client.post("/api/v1/giftsets", headers=ADMIN_H,
                        json={"business": s.business, "name": "Welcome pack",
                              "series": [cookie, cinema, cookie]}), 201)
    assert gs["series"] == [cookie, cinema, cookie]
    codes = ok(client.post(f"/api/v1/giftsets/{gs['id']}/codes", headers=ADMIN_H,
                           json={"count": 2}), 201)["codes"]
    cust = register(client, s)["customer"]
    body = {"customer": cust, "code": codes[0], "idempotency_key": "k1:gift:1"}
    got = ok(client.post("/api/v1/giftsets/redeem", headers=s.kiosk_h, json=body), 201)
    assert got["giftset"] == {"id": gs["id"], "name": "Welcome pack"}
    assert [c["series"] for c in got["coupons"]] == [cookie, cinema, cookie]
    assert len({c["ref"] for c in got["coupons"]}) == 3
    assert ok(client.post("/api/v1/giftsets/redeem", headers=s.register_h, json=body),
              201) == got
    assert sorted(wallet(client, s.kiosk_h, s.business)) == sorted(
        [f"{cookie}:Cookie", f"{cinema}:Cinema x2", f"{cookie}:Cookie"])
    other = register(client, s, "+380671234568")["customer"]
    r = client.post("/api/v1/giftsets/redeem", headers=s.kiosk_h,
                    json={"customer": other, "code": codes[0], "idempotency_key": "k2"})
    assert r.status_code == 409 and r.json() == {"detail": {"reason": "already_redeemed"}}
    r = client.post("/api/v1/giftsets/redeem", headers=s.kiosk_h,
                    json={"customer": other, "code": "NOPE1234", "idempotency_key": "k3"})
    assert r.status_code == 404 and r.json() == {"detail": "unknown gift set code"}
    with db.read() as sess:
        assert sess.scalar(select(func.count()).select_from(Code).where(
            Code.customer_id == cust)) == 3
        assert sess.scalar(select(func.count()).select_from(Code).where(
            Code.customer_id == other)) == 0
    assert client.post("/api/v1/giftsets", headers=s.kiosk_h,
                       json={"business": s.business, "name": "x",
                             "series": [cookie]}).status_code == 403
    r = client.post("/api/v1/giftsets", headers=ADMIN_H,
                    json={"business": s.business, "name": "x", "series": []})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "series"]


def test_a_series_that_cannot_issue_writes_nothing(client: TestClient, db: Database) -> None:
    s = seed(client)
    plenty, scarce = series(client, "Plenty"), series(client, "Scarce", limit=1)
    gs = ok(client.post("/api/v1/giftsets", headers=ADMIN_H,
                        json={"business": s.business, "name": "Pack",
                              "series": [plenty, scarce]}), 201)["id"]
    codes = ok(client.post(f"/api/v1/giftsets/{gs}/codes", headers=ADMIN_H,
                           json={"codes": ["PACK-0001", "PACK-0002"]}), 201)["codes"]
    cust = register(client, s)["customer"]
    ok(client.post("/api/v1/giftsets/redeem", headers=s.kiosk_h,
                   json={"customer": cust, "code": "pack 0001", "idempotency_key": "a"}), 201)
    r = client.post("/api/v1/giftsets/redeem", headers=s.kiosk_h,
                    json={"customer": cust, "code": codes[1], "idempotency_key": "b"})
    assert r.status_code == 409 and r.json()["detail"]["reason"] == "unavailable"
    with db.read() as sess:  # the plenty coupon of the refused set was rolled back
        assert sess.scalar(select(func.count()).select_from(Code).where(
            Code.customer_id == cust)) == 2
        assert sess.scalar(select(GiftCode.used_at).where(GiftCode.code == codes[1])) is None


def test_racing_redeems_of_one_code_give_one_set(live: httpx.Client, any_db: Database) -> None:
    s = seed(live)
    one = series(live, "One")
    gs = ok(live.post("/api/v1/giftsets", headers=ADMIN_H,
                      json={"business": s.business, "name": "Pack", "series": [one, one]}),
            201)["id"]
    code = ok(live.post(f"/api/v1/giftsets/{gs}/codes", headers=ADMIN_H, json={"count": 1}),
              201)["codes"][0]
    custs = [register(live, s, f"+38067123456{i}")["customer"] for i in range(6)]

    def redeem(i: int) -> int:
        with httpx.Client(base_url=str(live.base_url), timeout=30) as c:
            return c.post("/api/v1/giftsets/redeem", headers=s.kiosk_h,
                          json={"customer": custs[i], "code": code,
                                "idempotency_key": f"race{i}"}).status_code

    with ThreadPoolExecutor(6) as pool:
        statuses = sorted(pool.map(redeem, range(6)))
    assert statuses == [201, 409, 409, 409, 409, 409]
    with any_db.read() as sess:
        assert sess.scalar(select(func.count()).select_from(Code).where(
            Code.series_id == one, Code.customer_id.is_not(None))) == 2
