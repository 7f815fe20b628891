"""Passes (a series with entries_per_code = N) bought through the catalog or given as a reward:
the gate admits each N times through the real redemption endpoint and refuses the N+1th with the
existing reason (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from loyaltykit import ADMIN_H, Seeded, key, ok, register, seed, token, visit

PHONE = "+380671234567"


def pass_series(c: TestClient, name: str, entries: int) -> int:
    return int(ok(c.post("/api/v1/series", headers=ADMIN_H,
                         json={"name": name, "kind": "pass", "issue_limit": 50,
                               "entries_per_code": entries}), 201)["id"])


def at_gate(c: TestClient, gate_h: dict[str, str], code: str) -> dict[str, Any]:
    return ok(c.post("/api/v1/redemptions", headers=gate_h,  # type: ignore[no-any-return]
                     json={"code": code, "gate": "g1", "nonce": str(uuid.uuid4())}))


def wallet_code(c: TestClient, s: Seeded, series: int) -> str:
    summary = ok(c.post("/api/v1/kiosk/identify", headers=s.kiosk_h,
                        json={"phone": PHONE, "businesses": [s.business]}))
    (coupon,) = [x for x in summary["coupons"] if x["series"] == series]
    return str(coupon["code"])


def test_a_pass_bought_at_the_kiosk_admits_n_times(client: TestClient) -> None:
    s = seed(client)
    gym = pass_series(client, "Pool x3", 3)
    item = ok(client.post("/api/v1/catalog/items", headers=ADMIN_H,
                          json={"business": s.business, "category": s.category,
                                "name": "Pool, 3 visits", "price": "450.00"}), 201)["id"]
    ok(client.put(f"/api/v1/catalog/items/{item}/series", headers=ADMIN_H,
                  json={"series": gym}))
    cust = register(client, s)["customer"]
    check = ok(client.post("/api/v1/checks", headers=s.kiosk_h,
                           json={"customer": cust, "business": s.business,
                                 "idempotency_key": key(),
                                 "lines": [{"item": item, "qty": 1}]}), 201)["check"]
    ok(client.post(f"/api/v1/register/checks/{check}/close", headers=s.register_h,
                   json={"paid": True}))
    code = wallet_code(client, s, gym)
    gate_h = token(client, "gate", "g1")
    answers = [at_gate(client, gate_h, code) for _ in range(3)]
    assert [a["result"] for a in answers] == ["admit"] * 3
    passes = ok(client.get(f"/api/v1/customers/{cust}/passes?business={s.business}",
                           headers=s.register_h))["passes"]
    assert [(p["series"], p["entries"], p["entries_left"]) for p in passes] == [(gym, 3, 0)]
    fourth = at_gate(client, gate_h, code)
    assert (fourth["result"], fourth["reason"]) == ("reject", "already_used")
    # used up: it leaves the kiosk's wallet
    summary = ok(client.post("/api/v1/kiosk/identify", headers=s.kiosk_h,
                             json={"phone": PHONE, "businesses": [s.business]}))
    assert [x for x in summary["coupons"] if x["series"] == gym] == []


def test_a_pass_given_as_a_reward_admits_n_times(client: TestClient) -> None:
    s = seed(client, visit_points=60)
    two = pass_series(client, "Cinema x2", 2)
    reward = ok(client.post("/api/v1/rewards", headers=ADMIN_H,
                            json={"business": s.business, "name": "Two films", "cost": 50,
                                  "series": two}), 201)["id"]
    cust = register(client, s)["customer"]
    ok(visit(client, s, cust))
    got = ok(client.post(f"/api/v1/rewards/{reward}/redeem", headers=s.kiosk_h,
                         json={"customer": cust, "idempotency_key": key()}), 201)
    code = got["coupon"]["code"]
    gate_h = token(client, "gate", "g1")
    assert [at_gate(client, gate_h, code)["result"] for _ in range(2)] == ["admit", "admit"]
    third = at_gate(client, gate_h, code)
    assert (third["result"], third["reason"]) == ("reject", "already_used")
    passes = ok(client.get(f"/api/v1/customers/{cust}/passes", headers=s.register_h))["passes"]
    assert [(p["name"], p["entries_left"]) for p in passes] == [("Cinema x2", 0)]
