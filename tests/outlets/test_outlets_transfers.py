"""Transfers and phone-bound tickets, proved through the gate endpoints (online redemption and
the offline replica decided by the gate's own code), on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from hubkit import ADMIN_H
from outletkit import customer, key, ok, outlet, sell, series, token

from gate.decision import Decision, Usage, classify_or_reject, decide
from gate.replica import ReplicaStore
from hub.outlets.rules import SalesRules
from hub.outlets.transfers import TicketFacts, TransferReason, decide_transfer
from venue.clock import FakeClock
from venue.reasons import Reason, Result

A_PHONE, B_PHONE, C_PHONE = "+380671234567", "+380501112233", "+380931110099"


class NoHistory:
    def usage(self, ref: str) -> Usage | None:
        return None


def offline(store: ReplicaStore, code: str, now: datetime) -> Decision:
    """The gate's own offline decision over its replica."""
    scanned = classify_or_reject(code)
    assert not isinstance(scanned, Decision)
    return decide(scanned, store, NoHistory(), "in", now)


def scan(c: TestClient, gate_h: dict[str, str], code: str, mode: str = "redeem",
         nonce: str | None = None) -> dict[str, Any]:
    return ok(c.post("/api/v1/redemptions", headers=gate_h, json={
        "code": code, "gate": "g1", "nonce": nonce or uuid.uuid4().hex, "mode": mode}))


def transfer(c: TestClient, h: dict[str, str], ref: str, k: str | None = None,
             **body: Any) -> Any:
    return c.post(f"/api/v1/tickets/{ref}/transfer", headers=h,
                  json={"idempotency_key": k or key(), **body})


def test_transfer_decision_reasons() -> None:
    ok_facts = TicketFacts("issued", 0, "c_a", False)
    cases = [
        (SalesRules(transferable=False), ok_facts, None, TransferReason.TRANSFER_FORBIDDEN),
        (SalesRules(), TicketFacts("issued", 0, "c_a", True), None, TransferReason.SHARED_CODE),
        (SalesRules(), TicketFacts("revoked", 0, "c_a", False), None, TransferReason.NOT_ISSUED),
        (SalesRules(), TicketFacts("issued", 1, "c_a", False), None, TransferReason.USED),
        (SalesRules(), TicketFacts("issued", 0, None, False), None, TransferReason.NO_HOLDER),
        (SalesRules(), ok_facts, "c_x", TransferReason.NOT_HOLDER),
        (SalesRules(), ok_facts, "c_a", TransferReason.OK),
    ]
    for rules, facts, claimed, reason in cases:
        d = decide_transfer(rules, facts, to_customer="c_b", claimed_holder=claimed)
        assert d.reason == reason and d.allowed == (reason == TransferReason.OK)
    same = decide_transfer(SalesRules(), ok_facts, to_customer="c_a", claimed_holder=None)
    assert same.reason == TransferReason.SAME_HOLDER


def test_a_forbidden_transfer_is_refused(client: TestClient) -> None:
    sid = series(client, transferable=False)
    h = outlet(client, "t0", (sid, 10, "10.00"))
    sale = sell(client, h, sid, 1, customer_phone=A_PHONE).body
    customer(client, B_PHONE)
    reg = token(client, "register", "r1")
    r = transfer(client, reg, sale["refs"][0], to_phone=B_PHONE)
    assert r.status_code == 409 and r.json()["detail"]["reason"] == "transfer_forbidden"
    assert "cannot be transferred" in r.json()["detail"]["message"]
    code = ok(client.get(f"/api/v1/codes/{sale['refs'][0]}", headers=ADMIN_H))
    assert code["status"] == "issued" and code["customer_id"] == sale["customer"]
    assert ok(client.get("/api/v1/transfers", headers=ADMIN_H)) == []


def test_an_allowed_transfer_moves_the_ticket_and_the_old_code_stops_working(
        client: TestClient, tmp_path: Path, clock: FakeClock) -> None:
    sid = series(client, per_customer_limit=2)
    h = outlet(client, "t1", (sid, 10, "10.00"))
    sale = sell(client, h, sid, 2, customer_phone=A_PHONE).body
    old, other = sale["codes"]
    a = sale["customer"]
    b = customer(client, B_PHONE)
    gate_h = token(client, "gate", "g1")
    reg = token(client, "register", "r1")
    # the gate's offline replica before the transfer admits the old code
    store = ReplicaStore(tmp_path / "replica.db")
    try:
        store.apply(ok(client.get("/api/v1/gates/g1/replica", headers=gate_h)))
        before = offline(store, old["code"], clock.now())
        assert before.result == Result.ADMIT

        k = key()
        r = transfer(client, reg, old["ref"], k, to_phone="050 111 22 33", from_customer=a)
        assert r.status_code == 201, r.text
        moved = r.json()
        assert (moved["from_customer"], moved["to_customer"]) == (a, b)
        assert moved["old_ref"] == old["ref"] and moved["new_ref"] != old["ref"]
        new_code = moved["code"]["code"]
        assert new_code != old["code"] and moved["code"]["customer_id"] == b
        assert B_PHONE not in r.text and A_PHONE not in r.text

        # a retry returns the same transfer; the same key for another ticket is refused
        again = transfer(client, reg, old["ref"], k, to_phone=B_PHONE, from_customer=a)
        assert again.status_code == 200 and again.json()["new_ref"] == moved["new_ref"]
        r = transfer(client, reg, other["ref"], k, to_customer=b)
        assert r.json()["detail"]["reason"] == "idempotency_key_reused"

        # online: the old holder's code is refused as revoked, the new holder's admitted
        ans = scan(client, gate_h, old["code"])
        assert (ans["result"], ans["reason"]) == ("reject", "revoked")
        ans = scan(client, gate_h, new_code)
        assert (ans["result"], ans["reason"]) == ("admit", "ok")
        assert ans["ticket"]["ref"] == moved["new_ref"]

        # offline: the gate's replica refreshed from the hub rejects the old code on its own
        store.apply(ok(client.get("/api/v1/gates/g1/replica", headers=gate_h)))
        after = offline(store, old["code"], clock.now())
        assert (after.result, after.reason) == (Result.REJECT, Reason.REVOKED)
    finally:
        store.close()

    # the old ticket cannot move again, a used one not at all, only its holder may give it
    r = transfer(client, reg, old["ref"], to_customer=b)
    assert r.json()["detail"]["reason"] == "ticket_not_issued"
    r = transfer(client, reg, moved["new_ref"], to_customer=a)
    assert r.json()["detail"]["reason"] == "ticket_used"
    c = customer(client, C_PHONE)
    r = transfer(client, reg, other["ref"], to_customer=c, from_customer=b)
    assert r.status_code == 409 and r.json()["detail"]["reason"] == "not_holder"
    # the recipient's per-customer limit holds for transfers too
    sell(client, h, sid, 2, customer_phone=C_PHONE)
    r = transfer(client, reg, other["ref"], to_customer=c)
    assert r.json()["detail"]["reason"] == "per_customer_limit"
    # an unknown recipient, an unknown ticket
    r = transfer(client, reg, other["ref"], to_phone="+380441234567")
    assert r.status_code == 404
    assert transfer(client, reg, f"{sid}:999", to_customer=b).status_code == 404
    # other roles may not transfer
    assert transfer(client, h, other["ref"], to_customer=b).status_code == 403
    assert transfer(client, gate_h, other["ref"], to_customer=b).status_code == 403

    # the operator sees every transfer
    op = token(client, "operator", "op1")
    listed = ok(client.get("/api/v1/transfers", headers=op))
    assert [(t["old_ref"], t["new_ref"], t["by_role"]) for t in listed] == [
        (old["ref"], moved["new_ref"], "register")]
    assert ok(client.get(f"/api/v1/transfers?customer={b}", headers=op)) == listed
    assert ok(client.get(f"/api/v1/transfers?series={sid + 1}", headers=op)) == []
    history = ok(client.get(f"/api/v1/codes/{old['ref']}", headers=ADMIN_H))
    assert history["status"] == "revoked"


def test_a_phone_bound_ticket_asks_the_gate_to_check_the_holder(client: TestClient) -> None:
    bound = series(client, "Bound", bound_to_phone=True)
    free = series(client, "Free")
    h = outlet(client, "t2", (bound, 10, "10.00"), (free, 10, "10.00"))
    gate_h = token(client, "gate", "g1")
    sale = sell(client, h, bound, 1, customer_phone=A_PHONE).body
    masked = ok(client.post("/api/v1/customers", headers=token(client, "register", "r2"),
                            json={"phone": A_PHONE, "consent": True}), 200)["masked_phone"]
    nonce = uuid.uuid4().hex
    ans = scan(client, gate_h, sale["codes"][0]["code"], nonce=nonce)
    assert ans["result"] == "admit"
    assert ans["check_holder"] == {"masked_phone": masked, "ask": "phone_last_digits"}
    assert "1234567" not in str(ans) and masked.endswith("67")
    assert scan(client, gate_h, sale["codes"][0]["code"], nonce=nonce) == ans  # the retry
    # a refusal and an unbound or anonymous ticket carry no hint
    again = scan(client, gate_h, sale["codes"][0]["code"])
    assert again["result"] == "reject" and "check_holder" not in again
    other = sell(client, h, free, 1, customer_phone=A_PHONE).body
    assert "check_holder" not in scan(client, gate_h, other["codes"][0]["code"])
    anon = sell(client, h, bound, 1).body
    assert "check_holder" not in scan(client, gate_h, anon["codes"][0]["code"])
    # binding a series takes effect at the next scan in this hub process
    ok(client.put(f"/api/v1/series/{free}/sales-rules", headers=ADMIN_H,
                  json={"bound_to_phone": True}))
    later = sell(client, h, free, 1, customer_phone=A_PHONE).body
    assert scan(client, gate_h, later["codes"][0]["code"])["check_holder"]["masked_phone"] == masked
    rules = ok(client.get(f"/api/v1/series/{bound}/sales-rules", headers=h))
    assert rules == {"series": bound, "per_order_limit": None, "per_customer_limit": None,
                     "transferable": True, "bound_to_phone": True}


def test_a_transfer_needs_a_free_serial(client: TestClient) -> None:
    sid = series(client, issue_limit=1)
    h = outlet(client, "t3", (sid, 1, "10.00"))
    ref = sell(client, h, sid, 1, customer_phone=A_PHONE).body["refs"][0]
    b = customer(client, B_PHONE)
    r = transfer(client, ADMIN_H, ref, to_customer=b)
    assert r.status_code == 409 and r.json()["detail"]["reason"] == "no_serial_left"
    assert "cannot issue 1 more" in r.json()["detail"]["message"]
    code = ok(client.get(f"/api/v1/codes/{ref}", headers=ADMIN_H))
    assert code["status"] == "issued" and code["customer_id"] != b
    assert ok(client.get("/api/v1/transfers", headers=ADMIN_H)) == []
