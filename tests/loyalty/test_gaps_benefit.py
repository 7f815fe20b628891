"""``PUT /coupon-benefits/{series}`` naming a business that does not exist is a 404 (it was a
foreign-key error, a 500, found by schemathesis), like an unknown series; nothing is stored."""

from __future__ import annotations

from fastapi.testclient import TestClient
from loyaltykit import ADMIN_H, ok, seed
from sqlalchemy import func, select

from hub.db import Database
from hub.loyalty.gift_models import CouponBenefit


def test_unknown_business_or_series_is_a_404(client: TestClient, db: Database) -> None:
    s = seed(client)
    body = {"business": s.business + 1000, "kind": "amount", "value": "10.00"}
    r = client.put(f"/api/v1/coupon-benefits/{s.series}", json=body, headers=ADMIN_H)
    assert r.status_code == 404 and "business" in r.json()["detail"], r.text
    r = client.put("/api/v1/coupon-benefits/999999", headers=ADMIN_H,
                   json={**body, "business": s.business})
    assert r.status_code == 404 and "series" in r.json()["detail"], r.text
    with db.read() as ses:
        assert ses.scalar(select(func.count()).select_from(CouponBenefit)) == 0
    got = ok(client.put(f"/api/v1/coupon-benefits/{s.series}", headers=ADMIN_H,
                        json={**body, "business": s.business}))
    assert got == {"series": s.series, "business": s.business, "kind": "amount",
                   "value": "10.00", "item": None}
