"""The kiosk's summary lists every usable code the customer holds for the kiosk's businesses,
whatever gave it (reward, promotion, birthday series, filter campaign, poster QR, a transfer
from another customer, an outlet's sale), in one query; another business's coupons stay out and
the series' visibility rule holds (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from loyaltykit import ADMIN_H, Seeded, key, ok, register, seed, token
from sqlalchemy import event

from hub.db import Database
from hub.loyalty import owners, service
from venue.clock import FakeClock

PHONE_A = "+380671234567"
PHONE_B = "+380672223344"


def _series(c: TestClient, name: str, **kw: Any) -> int:
    body = {"name": name, "kind": "coupon", "issue_limit": 100, **kw}
    return int(ok(c.post("/api/v1/series", json=body, headers=ADMIN_H), 201)["id"])


def _identify(c: TestClient, s: Seeded, businesses: list[int],
              phone: str = PHONE_A) -> dict[str, Any]:
    return ok(c.post("/api/v1/kiosk/identify", headers=s.kiosk_h,  # type: ignore[no-any-return]
                     json={"phone": phone, "businesses": businesses}))


def test_summary_lists_coupons_from_every_source(client: TestClient, clock: FakeClock) -> None:
    s = seed(client, visit_points=100, cooldown_s=0, cost=50)
    a = register(client, s, PHONE_A)["customer"]
    b = register(client, s, PHONE_B)["customer"]
    other = ok(client.post("/api/v1/businesses", json={"name": "Bar"}, headers=ADMIN_H),
               201)["id"]
    got: dict[str, str] = {}  # source → ref held by A

    # a reward (listed before this change too)
    ok(client.post("/api/v1/visits", headers=s.kiosk_h,
                   json={"customer": a, "business": s.business, "source": "kiosk",
                         "device": "k1", "idempotency_key": key()}))
    got["reward"] = ok(client.post(f"/api/v1/rewards/{s.reward}/redeem", headers=s.kiosk_h,
                                   json={"customer": a, "idempotency_key": key()}),
                       201)["coupon"]["ref"]
    # a promotion's coupon, claimed at the kiosk
    promo_series = _series(client, "Happy hour")
    promo = ok(client.post("/api/v1/promotions", headers=ADMIN_H,
                           json={"business": s.business, "title": "Happy hour",
                                 "series": promo_series, "cost": 0}), 201)
    got["promotion"] = ok(client.post(f"/api/v1/promotions/{promo['id']}/claim",
                                      headers=s.kiosk_h,
                                      json={"customer": a, "idempotency_key": key()}),
                          201)["coupon"]["ref"]
    # the business's birthday series (the trigger issues it; here the operator does)
    bday_series = _series(client, "Birthday cake")
    ok(client.put(f"/api/v1/businesses/{s.business}/wallet-rules", headers=ADMIN_H,
                  json={"birthday_series": bday_series}))
    got["birthday"] = ok(client.post(f"/api/v1/series/{bday_series}/codes", headers=ADMIN_H,
                                     json={"customers": [a]}), 201)[0]["ref"]
    # a filter campaign, run by the operator; its code shown only once used
    camp_series = _series(client, "VIP drink", code_visibility="on_redeem")
    camp = ok(client.post("/api/v1/campaigns", headers=ADMIN_H,
                          json={"business": s.business, "name": "VIP", "kind": "filter",
                                "series": camp_series, "filter": {}}), 201)
    assert ok(client.post(f"/api/v1/campaigns/{camp['id']}/run", headers=ADMIN_H))["issued"] == 2
    # a poster's QR
    qr_series = _series(client, "Poster gift")
    qr = ok(client.post("/api/v1/campaign-qr", headers=ADMIN_H,
                        json={"business": s.business, "name": "Poster", "series": qr_series}),
            201)
    got["campaign_qr"] = ok(client.post("/api/v1/campaign-qr/claim", headers=s.kiosk_h,
                                        json={"customer": a, "code": qr["code"],
                                              "idempotency_key": key()}), 201)["coupon"]["ref"]
    # B's promotion coupon, transferred to A (the friend's ticket)
    gift = ok(client.post(f"/api/v1/promotions/{promo['id']}/claim", headers=s.kiosk_h,
                          json={"customer": b, "idempotency_key": key()}), 201)["coupon"]
    moved = ok(client.post(f"/api/v1/tickets/{gift['ref']}/transfer", headers=ADMIN_H,
                           json={"to_customer": a, "idempotency_key": key()}), 201)
    got["transfer"] = moved["new_ref"]
    # an outlet sells a venue ticket (a series no business owns) to A
    concert = _series(client, "Concert", kind="ticket")
    ok(client.post("/api/v1/outlets", json={"id": "agency1", "name": "Agency"},
                   headers=ADMIN_H), 201)
    ok(client.put(f"/api/v1/outlets/agency1/series/{concert}",
                  json={"quota": 10, "price": "100.00"}, headers=ADMIN_H))
    sale = ok(client.post("/api/v1/outlet/sales", headers=token(client, "outlet", "agency1"),
                          json={"series": concert, "customer": a, "idempotency_key": key()}),
              201)
    got["outlet"] = sale["codes"][0]["ref"]
    # the Bar's coupon, not shown at the Cafe's kiosk
    bar_series = _series(client, "Bar snack")
    bar_promo = ok(client.post("/api/v1/promotions", headers=ADMIN_H,
                               json={"business": other, "title": "Snack",
                                     "series": bar_series, "cost": 0}), 201)
    bar_ref = ok(client.post(f"/api/v1/promotions/{bar_promo['id']}/claim", headers=s.kiosk_h,
                             json={"customer": a, "idempotency_key": key()}),
                 201)["coupon"]["ref"]

    summary = _identify(client, s, [s.business])
    listed = {c["ref"]: c for c in summary["coupons"]}
    for source, ref in got.items():
        assert ref in listed, (source, ref, sorted(listed))
        assert listed[ref]["business"] == s.business
    camp_refs = [r for r, c in listed.items() if c["series"] == camp_series]
    assert len(camp_refs) == 1
    assert listed[camp_refs[0]]["code"] is None and listed[camp_refs[0]]["serial"] is None
    assert listed[got["promotion"]]["code"] and listed[got["promotion"]]["serial"]
    assert bar_ref not in listed and gift["ref"] not in listed  # another's; revoked by the move
    assert len(listed) == len(got) + 1  # and nothing else
    # B's summary: the campaign's coupon only (the promotion's moved to A)
    b_listed = [c["series"] for c in _identify(client, s, [s.business], PHONE_B)["coupons"]]
    assert b_listed == [camp_series]
    # a kiosk of both: the Bar's coupon under the Bar; a kiosk of the Bar only: the venue's
    # ticket under the Bar, the Cafe's coupons not at all
    both = {c["ref"]: c["business"] for c in _identify(client, s, [s.business, other])["coupons"]}
    assert both[bar_ref] == other and both[got["reward"]] == s.business
    bar_only = {c["ref"]: c["business"] for c in _identify(client, s, [other])["coupons"]}
    assert bar_only == {bar_ref: other, got["outlet"]: other}
    # used up: gone from the list
    ok(client.post("/api/v1/redemptions", headers=ADMIN_H,
                   json={"code": listed[got["outlet"]]["code"], "gate": "g1", "nonce": key()}))
    assert got["outlet"] not in {c["ref"] for c in _identify(client, s, [s.business])["coupons"]}


def test_listing_is_one_query(client: TestClient, db: Database, clock: FakeClock) -> None:
    s = seed(client)
    a = register(client, s, PHONE_A)["customer"]
    promo_series = _series(client, "Happy hour")
    promo = ok(client.post("/api/v1/promotions", headers=ADMIN_H,
                           json={"business": s.business, "title": "Happy hour",
                                 "series": promo_series, "cost": 0}), 201)
    for _ in range(2):
        ok(client.post(f"/api/v1/series/{s.series}/codes", headers=ADMIN_H,
                       json={"customers": [a]}), 201)
    ok(client.post(f"/api/v1/promotions/{promo['id']}/claim", headers=s.kiosk_h,
                   json={"customer": a, "idempotency_key": key()}), 201)
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):  # not SQLite's BEGIN
            statements.append(statement)

    with db.read() as ses:
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            listed = service.live_coupons(ses, a, [s.business], now=clock.now())
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
    assert len(listed) == 3 and len(statements) == 1, statements


def test_pick_rules() -> None:
    # owned by an asked business: the best-ranked source, then the kiosk's order
    assert owners.pick([(2, 6), (1, 0)], [1, 2]) == 1
    assert owners.pick([(2, 0), (1, 0)], [1, 2]) == 1
    assert owners.pick([(2, 0), (1, 0)], [2, 1]) == 2
    # owned only elsewhere: not listed; owned by nobody: the kiosk's first business
    assert owners.pick([(3, 0)], [1, 2]) is None
    assert owners.pick([(None, None)], [2, 1]) == 2
    assert owners.pick([(None, None)], []) is None


def test_series_businesses_covers_every_source(client: TestClient, db: Database) -> None:
    s = seed(client)
    promo_series = _series(client, "Happy hour")
    ok(client.post("/api/v1/promotions", headers=ADMIN_H,
                   json={"business": s.business, "title": "x", "series": promo_series}), 201)
    camp_series = _series(client, "VIP")
    ok(client.post("/api/v1/campaigns", headers=ADMIN_H,
                   json={"business": s.business, "name": "VIP", "kind": "filter",
                         "series": camp_series, "filter": {}}), 201)
    with db.read() as ses:
        found = owners.series_businesses(ses, [s.business])
        assert found == {s.series: s.business, promo_series: s.business,
                         camp_series: s.business}
        assert owners.series_businesses(ses, [s.business + 1]) == {}
        assert owners.series_businesses(ses, []) == {}
