"""Loyalty API on a real SQLite hub in process: identity, visits, rewards, shop, roles, limits."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from loyaltykit import ADMIN_H, PNG, key, ok, points, register, seed, token, visit
from sqlalchemy import select, text

from hub.db import Database
from hub.loyalty.models import Customer, LedgerEntry
from venue.clock import FakeClock
from venue.messages import rfc3339

PHONE = "+380671234567"


@pytest.mark.parametrize(("raw", "why"), [
    ("06", "wrong number of digits"),  # too short
    ("+380 67 12", "wrong number of digits"),
    ("call me maybe", "not a phone number"),  # letters
    ("067 CALL ME", "not a"),
    ("+999 123 456 789", "unknown country code"),
    ("+1 067 123 45 67", "not a valid"),  # a Ukrainian number under the US code
    ("+380 00 123 45 67", "not a valid"),
])
def test_invalid_numbers_get_a_clear_422(client: TestClient, raw: str, why: str) -> None:
    s = seed(client)
    for path, body in (("/api/v1/kiosk/identify", {"phone": raw, "businesses": [s.business]}),
                       ("/api/v1/customers", {"phone": raw, "consent": True})):
        r = client.post(path, json=body, headers=s.kiosk_h)
        assert r.status_code == 422, r.text
        detail = r.json()["detail"][0]
        assert detail["loc"] == ["body", "phone"]
        assert why in detail["msg"]
        assert raw not in r.text  # the answer never echoes what was typed


def test_national_format_is_found_under_e164_and_never_stored_clear(
        client: TestClient, db: Database) -> None:
    s = seed(client, welcome=25)
    r = client.post("/api/v1/customers", headers=s.kiosk_h,
                    json={"phone": "067 123 45 67", "consent": True, "businesses": [s.business]})
    created = ok(r, 201)
    assert created["new"] is True and created["masked_phone"] == "+380 •• ••• •• 67"
    assert created["balances"][0]["bonus_points"] == 25
    found = ok(client.post("/api/v1/kiosk/identify", headers=s.kiosk_h,
                           json={"phone": PHONE, "businesses": [s.business]}))
    assert found["customer"] == created["customer"] and found["new"] is False
    again = client.post("/api/v1/customers", headers=s.kiosk_h,
                        json={"phone": "+38 (067) 123-45-67", "consent": True,
                              "businesses": [s.business]})
    assert ok(again, 200)["customer"] == created["customer"]
    assert again.json()["balances"][0]["bonus_points"] == 25  # welcome bonus once
    with db.engine.connect() as conn:  # no column anywhere holds the number readably
        for table in ("loyalty_customers", "loyalty_ledger", "loyalty_ops", "events"):
            dump = str(conn.execute(text(f"SELECT * FROM {table}")).all())
            assert "671234567" not in dump, table


def test_consent_is_required_and_nothing_is_stored_without_it(
        client: TestClient, db: Database) -> None:
    s = seed(client)
    r = client.post("/api/v1/customers", headers=s.kiosk_h,
                    json={"phone": PHONE, "consent": False, "businesses": [s.business]})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "consent"]
    with db.read() as sess:
        assert sess.scalars(select(Customer)).all() == []
    r = client.post("/api/v1/kiosk/identify", headers=s.kiosk_h,
                    json={"phone": PHONE, "businesses": [s.business]})
    assert r.status_code == 404 and r.json() == {"detail": "unknown customer"}


def test_visit_cooldown_and_repeated_key(client: TestClient, clock: FakeClock) -> None:
    s = seed(client, visit_points=10, cooldown_s=3600)
    c = register(client, s)["customer"]
    first = ok(visit(client, s, c, "v1"))
    assert first["credited"] is True and first["balance"] == 10 and first["reason"] == "ok"
    assert ok(visit(client, s, c, "v1")) == first
    second = ok(visit(client, s, c, "v2"))
    assert second["credited"] is False and second["reason"] == "cooldown"
    assert second["balance"] == 10 and second["next_at"] == first["next_at"]
    clock.advance(3600)
    assert ok(visit(client, s, c, "v3"))["balance"] == 20
    assert ok(visit(client, s, c, "v2")) == second  # the first answer, even after the cooldown


def test_no_rule_credits_nothing(client: TestClient) -> None:
    s = seed(client, visit_points=0)
    c = register(client, s)["customer"]
    assert ok(visit(client, s, c))["reason"] == "no_rule"


def test_redeem_spends_and_issues_a_coupon_into_the_wallet(client: TestClient,
                                                           clock: FakeClock) -> None:
    s = seed(client, visit_points=30, cooldown_s=60, cost=50)
    c = register(client, s)["customer"]
    for _ in range(2):
        ok(visit(client, s, c))
        clock.advance(60)
    k = key()
    r = client.post(f"/api/v1/rewards/{s.reward}/redeem", headers=s.kiosk_h,
                    json={"customer": c, "idempotency_key": k})
    got = ok(r, 201)
    assert got["balance"] == 10
    coupon = got["coupon"]
    assert coupon["series"] == s.series and coupon["code"] and coupon["serial"]
    assert coupon["business"] == s.business and coupon["status"] == "issued"
    assert ok(client.post(f"/api/v1/rewards/{s.reward}/redeem", headers=s.kiosk_h,
                          json={"customer": c, "idempotency_key": k}), 201) == got
    summary = ok(client.post("/api/v1/kiosk/identify", headers=s.kiosk_h,
                             json={"phone": PHONE, "businesses": [s.business]}))
    assert [x["ref"] for x in summary["coupons"]] == [coupon["ref"]]
    rewards = {x["id"]: x for x in summary["rewards"]}
    assert rewards[s.reward]["affordable"] is False and rewards[s.cheap_reward]["affordable"]
    assert rewards[s.reward]["image"] == "/api/v1/media/coffee.png"
    code = ok(client.get(f"/api/v1/codes/{coupon['ref']}", headers=ADMIN_H))
    assert code["customer_id"] == c


def test_insufficient_points_changes_nothing(client: TestClient, db: Database) -> None:
    s = seed(client, visit_points=20, cost=50)
    c = register(client, s)["customer"]
    ok(visit(client, s, c))
    with db.read() as sess:
        rows_before = len(sess.scalars(select(LedgerEntry)).all())
    r = client.post(f"/api/v1/rewards/{s.reward}/redeem", headers=s.kiosk_h,
                    json={"customer": c, "idempotency_key": key()})
    assert r.status_code == 409
    assert r.json()["detail"] == {"reason": "insufficient_points", "balance": 20, "cost": 50}
    assert points(client, s) == 20
    with db.read() as sess:
        assert len(sess.scalars(select(LedgerEntry)).all()) == rows_before
    series = ok(client.get(f"/api/v1/series/{s.series}", headers=ADMIN_H))
    assert series["issued_count"] == 0


def test_welcome_bonus_is_spent_first_and_expires(client: TestClient, clock: FakeClock) -> None:
    s = seed(client, visit_points=10, welcome=5)
    ok(client.put(f"/api/v1/businesses/{s.business}/rules", headers=ADMIN_H,
                  json={"visit_points": 10, "welcome_bonus": 8, "welcome_bonus_ttl_s": 3600}))
    c = register(client, s)["customer"]
    ok(visit(client, s, c))
    got = ok(client.post(f"/api/v1/rewards/{s.cheap_reward}/redeem", headers=s.kiosk_h,
                         json={"customer": c, "idempotency_key": key()}), 201)
    assert got["balance"] == 10  # the 5 came out of the 8 bonus points
    summary = ok(client.post("/api/v1/kiosk/identify", headers=s.kiosk_h,
                             json={"phone": PHONE, "businesses": [s.business]}))
    assert summary["balances"][0]["bonus_points"] == 3
    clock.advance(3601)
    summary = ok(client.post("/api/v1/kiosk/identify", headers=s.kiosk_h,
                             json={"phone": PHONE, "businesses": [s.business]}))
    assert summary["balances"][0]["bonus_points"] == 0
    assert summary["balances"][0]["points"] == 10


def test_kiosk_check_reaches_the_register_and_accrues_once(client: TestClient) -> None:
    s = seed(client, per_amount="0.1")
    c = register(client, s)["customer"]
    k = key()
    body = {"customer": c, "business": s.business, "idempotency_key": k, "device": "k1",
            "lines": [{"item": s.latte, "qty": 2}, {"item": s.cake, "qty": 1}]}
    check = ok(client.post("/api/v1/checks", json=body, headers=s.kiosk_h), 201)
    assert check["total"] == "159.90" and check["status"] == "queued"
    assert check["number"] == f"A-{check['check'] % 1000:03d}" and check["qr"]
    assert ok(client.post("/api/v1/checks", json=body, headers=s.kiosk_h), 201) == check
    queue = ok(client.get(f"/api/v1/register/checks?business={s.business}",
                          headers=s.register_h))
    assert [q["check"] for q in queue] == [check["check"]]
    assert Decimal(queue[0]["lines"][0]["amount"]) == Decimal("110.00")
    close = f"/api/v1/register/checks/{check['check']}/close"
    closed = ok(client.post(close, json={"paid": True}, headers=s.register_h))
    assert closed["status"] == "paid" and closed["points"] == 15
    assert ok(client.post(close, json={"paid": True}, headers=s.register_h)) == closed
    assert client.post(close, json={"paid": False}, headers=s.register_h).status_code == 409
    assert points(client, s) == 15
    assert ok(client.get("/api/v1/register/checks", headers=s.register_h)) == []


def test_unavailable_items_are_refused(client: TestClient) -> None:
    s = seed(client)
    ok(client.patch(f"/api/v1/catalog/items/{s.cake}", json={"available": False},
                    headers=ADMIN_H))
    r = client.post("/api/v1/checks", headers=s.kiosk_h,
                    json={"business": s.business, "idempotency_key": key(),
                          "lines": [{"item": s.cake, "qty": 1}, {"item": 999, "qty": 1}]})
    assert r.status_code == 409
    assert r.json()["detail"] == {"reason": "unavailable", "items": [s.cake, 999]}


def test_catalog_and_media(client: TestClient) -> None:
    s = seed(client)
    cat = ok(client.get(f"/api/v1/catalog?business={s.business}", headers=s.kiosk_h))
    assert cat["categories"] == [{"id": s.category, "name": "Drinks"}]
    latte = next(i for i in cat["items"] if i["id"] == s.latte)
    assert latte == {"id": s.latte, "category": s.category, "name": "Latte", "price": "55.00",
                     "currency": "UAH", "image": "/api/v1/media/coffee.png", "available": True}
    r = client.get(latte["image"], headers=s.kiosk_h)
    assert r.status_code == 200 and r.content == PNG and r.headers["content-type"] == "image/png"
    assert client.get("/api/v1/media/nope.png", headers=s.kiosk_h).status_code == 404
    # the wallet page shows pictures without a bearer token
    public = client.get("/api/v1/media/coffee.png")
    assert public.status_code == 200 and public.content == PNG
    assert public.headers["x-content-type-options"] == "nosniff"


def test_cards_identify_until_revoked(client: TestClient) -> None:
    s = seed(client)
    c = register(client, s)["customer"]
    card = ok(client.post(f"/api/v1/customers/{c}/cards", headers=s.register_h), 201)["card"]
    found = ok(client.post("/api/v1/kiosk/identify", headers=s.kiosk_h,
                           json={"card": card, "businesses": [s.business]}))
    assert found["customer"] == c
    assert ok(client.post("/api/v1/cards/revoke", json={"card": card},
                          headers=s.register_h)) == {"revoked": True}
    r = client.post("/api/v1/kiosk/identify", headers=s.kiosk_h,
                    json={"card": card, "businesses": [s.business]})
    assert r.status_code == 404


def test_roles(client: TestClient) -> None:
    s = seed(client)
    gate = token(client, "gate", "g1")
    beacon = token(client, "beacon", "b1")
    c = register(client, s)["customer"]
    assert client.post("/api/v1/businesses", json={"name": "X"}).status_code == 401
    assert client.post("/api/v1/businesses", json={"name": "X"},
                       headers=s.kiosk_h).status_code == 403
    assert client.post("/api/v1/kiosk/identify", json={"phone": PHONE},
                       headers=gate).status_code == 403
    assert visit(client, s, c).status_code == 200
    r = client.post("/api/v1/visits", headers=beacon,
                    json={"customer": c, "business": s.business, "source": "beacon",
                          "idempotency_key": key()})
    assert r.status_code == 200
    assert client.get("/api/v1/register/checks", headers=s.kiosk_h).status_code == 403
    assert client.post(f"/api/v1/rewards/{s.reward}/redeem", headers=beacon,
                       json={"customer": c, "idempotency_key": key()}).status_code == 403
    r = client.post("/api/v1/visits", headers=s.kiosk_h,
                    json={"customer": c, "business": s.business, "idempotency_key": key(),
                          "extra": 1})
    assert r.status_code == 422


def test_identify_rate_limits_per_device_and_per_number(db: Database, clock: FakeClock) -> None:
    from hub.api.app import create_app

    with TestClient(create_app(db, clock=clock, token_ttl=0.0,
                               identify_limits=(5, 2))) as c:
        s = seed(c)
        register(c, s)
        ask = {"phone": PHONE, "businesses": [s.business]}
        codes = [c.post("/api/v1/kiosk/identify", json=ask, headers=s.kiosk_h).status_code
                 for _ in range(3)]
        assert codes == [200, 200, 429]  # this number, whichever device asks
        other = token(c, "kiosk", "k2")
        assert c.post("/api/v1/kiosk/identify", json=ask, headers=other).status_code == 429
        strangers = [c.post("/api/v1/kiosk/identify", headers=s.kiosk_h,
                            json={"phone": f"+38067123450{i}"}).status_code for i in range(3)]
        assert strangers == [404, 404, 429]  # the device's 5 are used up: no oracle
        clock.advance(60)
        assert c.post("/api/v1/kiosk/identify", json=ask, headers=s.kiosk_h).status_code == 200


def test_corrections_are_new_rows_and_stats_count_per_day(client: TestClient, db: Database,
                                                          clock: FakeClock) -> None:
    s = seed(client, visit_points=10, cost=50, per_amount="0.1")
    c = register(client, s)["customer"]
    ok(visit(client, s, c))
    k = key()
    body = {"business": s.business, "customer": c, "delta": 45, "note": "goodwill",
            "idempotency_key": k}
    got = ok(client.post("/api/v1/ledger/corrections", json=body, headers=ADMIN_H), 201)
    assert got["points"] == 55
    assert ok(client.post("/api/v1/ledger/corrections", json=body, headers=ADMIN_H), 201) == got
    too_much = client.post("/api/v1/ledger/corrections", headers=ADMIN_H,
                           json={**body, "delta": -56, "idempotency_key": key()})
    assert too_much.status_code == 409 and points(client, s) == 55
    assert client.post("/api/v1/ledger/corrections", headers=s.kiosk_h,
                       json={**body, "idempotency_key": key()}).status_code == 403
    ok(client.post(f"/api/v1/rewards/{s.reward}/redeem", headers=s.kiosk_h,
                   json={"customer": c, "idempotency_key": key()}), 201)
    check = ok(client.post("/api/v1/checks", headers=s.kiosk_h,
                           json={"customer": c, "business": s.business, "idempotency_key": key(),
                                 "lines": [{"item": s.latte, "qty": 1}]}), 201)
    ok(client.post(f"/api/v1/register/checks/{check['check']}/close", json={"paid": True},
                   headers=s.register_h))
    day = ok(client.get(f"/api/v1/businesses/{s.business}/stats", headers=ADMIN_H))
    assert day == [{"day": clock.now().date().isoformat(), "visits": 1,
                    "points_earned": 10 + 45 + 5, "points_spent": 50, "rewards": 1,
                    "checks": 1, "checks_total": "55.00"}]
    with db.read() as sess:
        reasons = [r.reason for r in sess.scalars(select(LedgerEntry).order_by(LedgerEntry.id))]
    assert reasons == ["visit_kiosk", "correction", "reward", "check"]


def test_a_coupon_used_at_the_gate_leaves_the_summary(client: TestClient) -> None:
    s = seed(client, visit_points=60, cost=50)
    c = register(client, s)["customer"]
    ok(visit(client, s, c))
    coupon = ok(client.post(f"/api/v1/rewards/{s.reward}/redeem", headers=s.kiosk_h,
                            json={"customer": c, "idempotency_key": key()}), 201)["coupon"]
    gate = token(client, "gate", "g1")
    scan = ok(client.post("/api/v1/redemptions", headers=gate,
                          json={"code": coupon["code"], "gate": "g1", "nonce": key()}))
    assert scan["result"] == "admit"
    summary = ok(client.post("/api/v1/kiosk/identify", headers=s.kiosk_h,
                             json={"phone": PHONE, "businesses": [s.business]}))
    assert summary["coupons"] == []


def test_a_temporary_bonus_expires_with_what_was_spent_of_it(client: TestClient,
                                                             clock: FakeClock) -> None:
    s = seed(client, visit_points=10, cost=50)
    c = register(client, s)["customer"]
    ok(visit(client, s, c))
    until = clock.now() + timedelta(days=7)
    grant = {"business": s.business, "customer": c, "account": "bonus_points", "delta": 8,
             "note": "happy hour", "expires_at": rfc3339(until), "idempotency_key": key()}
    got = ok(client.post("/api/v1/ledger/corrections", json=grant, headers=ADMIN_H), 201)
    assert (got["points"], got["bonus_points"]) == (10, 8)
    taken = client.post("/api/v1/ledger/corrections", headers=ADMIN_H,
                        json={**grant, "delta": -1, "idempotency_key": key()})
    assert taken.status_code == 409 and taken.json()["detail"]["reason"] == "not_supported"
    spent = ok(client.post(f"/api/v1/rewards/{s.cheap_reward}/redeem", headers=s.kiosk_h,
                           json={"customer": c, "idempotency_key": key()}), 201)
    assert spent["balance"] == 10  # the 5 came out of the bonus
    clock.advance(7 * 86400)
    summary = ok(client.post("/api/v1/kiosk/identify", headers=s.kiosk_h,
                             json={"phone": PHONE, "businesses": [s.business]}))
    assert (summary["balances"][0]["points"], summary["balances"][0]["bonus_points"]) == (10, 0)


def test_ids_beyond_64_bits_are_a_422_not_a_server_error(client: TestClient) -> None:
    s = seed(client)
    r = client.post("/api/v1/checks", headers=s.kiosk_h,
                    json={"business": s.business, "idempotency_key": key(),
                          "lines": [{"item": 2**64, "qty": 1}]})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][:2] == ["body", "lines"]
