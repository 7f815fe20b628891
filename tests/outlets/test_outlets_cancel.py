"""Cancelling an outlet's sale: codes revoked at the gate, quota back, never billed; refused
once invoiced or used; isolation between outlets (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from hubkit import ADMIN_H
from outletkit import key, ok, outlet, sell, series, token

from hub.outlets.cancel import CancelReason, CodeFacts, decide_cancel


def test_cancel_decision() -> None:
    live = CodeFacts("7:1", "issued", 0)
    assert decide_cancel(invoiced=False, codes=[live]).allowed
    assert decide_cancel(invoiced=True, codes=[live]).reason == CancelReason.ALREADY_INVOICED
    used = decide_cancel(invoiced=False, codes=[live, CodeFacts("7:2", "issued", 1)])
    assert used.reason == CancelReason.TICKETS_USED and used.refs == ("7:2",)
    gone = decide_cancel(invoiced=False, codes=[CodeFacts("7:3", "revoked", 0)])
    assert gone.reason == CancelReason.TICKETS_NOT_LIVE


def test_a_cancelled_sale_is_revoked_given_back_and_never_billed(client: TestClient) -> None:
    sid = series(client)
    h = outlet(client, "c1", (sid, 3, "40.00"))
    h2 = outlet(client, "c2", (sid, 3, "40.00"))
    gate_h = token(client, "gate", "g1")
    sale = sell(client, h, sid, 3).body
    keep = sell(client, h2, sid, 1).body
    assert sell(client, h, sid, 1).body["detail"]["reason"] == "quota_exceeded"
    # another outlet cannot cancel it (404), the outlet can
    assert client.post(f"/api/v1/outlet/sales/{sale['id']}/cancel", headers=h2).status_code == 404
    r = client.post(f"/api/v1/outlet/sales/{sale['id']}/cancel", headers=h)
    assert r.status_code == 201 and r.json()["status"] == "cancelled"
    again = client.post(f"/api/v1/outlet/sales/{sale['id']}/cancel", headers=h)
    assert again.status_code == 200 and again.json()["status"] == "cancelled"
    for c in sale["codes"]:
        ans = ok(client.post("/api/v1/redemptions", headers=gate_h, json={
            "code": c["code"], "gate": "g1", "nonce": uuid.uuid4().hex}))
        assert (ans["result"], ans["reason"]) == ("reject", "revoked")
    assert ok(client.get("/api/v1/outlet/series", headers=h))[0]["sold"] == 0
    assert sell(client, h, sid, 1).status == 201  # the quota is back
    items = ok(client.get("/api/v1/outlets/c1/open-items", headers=ADMIN_H))
    assert items["count"] == 1 and items["totals"] == {"UAH": "40.00"}
    inv = ok(client.post("/api/v1/outlets/c1/invoices", headers=ADMIN_H,
                         json={"idempotency_key": key()}), 201)
    assert inv["total"] == "40.00" and inv["item_count"] == 1
    # an invoiced sale cannot be cancelled; nor one whose ticket was used
    billed = ok(client.get("/api/v1/outlets/c1/open-items", headers=ADMIN_H))
    assert billed["count"] == 0
    invoiced_id = ok(client.get("/api/v1/outlet/sales", headers=h))[0]["id"]
    r = client.post(f"/api/v1/outlet/sales/{invoiced_id}/cancel", headers=h)
    assert r.status_code == 409 and r.json()["detail"]["reason"] == "already_invoiced"
    ok(client.post("/api/v1/redemptions", headers=gate_h, json={
        "code": keep["codes"][0]["code"], "gate": "g1", "nonce": uuid.uuid4().hex}))
    r = client.post(f"/api/v1/outlets/c2/sales/{keep['id']}/cancel", headers=ADMIN_H)
    assert r.status_code == 409 and r.json()["detail"]["reason"] == "tickets_used"
    assert r.json()["detail"]["refs"] == keep["refs"]
    assert client.post(f"/api/v1/outlets/c1/sales/{keep['id']}/cancel",
                       headers=ADMIN_H).status_code == 404
