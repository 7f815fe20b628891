"""Issuance campaigns over the API (SQLite and PostgreSQL): a filter (tags, recent visits,
membership) picks customers, a run issues one coupon each and a second run only to new matches;
check campaigns issue on paid checks that match their rule, once per check; a campaign that
notifies sends the coupon's QR by email to a real SMTP server."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest
from fastapi.testclient import TestClient
from loyaltykit import ADMIN_H, Seeded, key, ok, register, seed, visit
from notifykit import smtp_server
from sqlalchemy import func, select

from hub.config import NotifySection
from hub.db import Database
from hub.loyalty.campaigns import CheckRule, check_matches
from hub.models import Code
from hub.notify import queue
from hub.notify.adapters import build_adapters
from hub.notify.sender import deliver_due
from venue.clock import FakeClock

PHONES = ["+380671234501", "+380671234502", "+380671234503", "+380671234504"]


def coupons(client: TestClient, s: Seeded, phone: str) -> list[dict[str, object]]:
    summary = ok(client.post("/api/v1/kiosk/identify", headers=s.register_h,
                             json={"phone": phone, "businesses": [s.business]}))
    return list(summary["coupons"])


def series(client: TestClient, name: str = "Campaign gift") -> int:
    return int(ok(client.post("/api/v1/series", headers=ADMIN_H,
                              json={"name": name, "kind": "coupon", "issue_limit": 100}),
                  201)["id"])


def test_check_rule_is_pure() -> None:
    lines = [{"item": 7, "qty": 2}, {"item": 8, "qty": 1}]
    assert check_matches(CheckRule(min_total=Decimal("100")), total=Decimal("100.00"),
                         lines=lines)
    assert not check_matches(CheckRule(min_total=Decimal("100")), total=Decimal("99.99"),
                             lines=lines)
    assert check_matches(CheckRule(item=7, min_qty=2), total=Decimal(1), lines=lines)
    assert not check_matches(CheckRule(item=7, min_qty=3), total=Decimal(1), lines=lines)
    assert not check_matches(CheckRule(min_total=Decimal(1), item=9), total=Decimal(5),
                             lines=lines)


def test_filter_campaign_issues_once_per_customer(client: TestClient, clock: FakeClock,
                                                 db: Database) -> None:
    s = seed(client)
    ids = [register(client, s, p)["customer"] for p in PHONES]
    for cid in ids[:3]:
        ok(client.put(f"/api/v1/customers/{cid}/tags", headers=ADMIN_H, json={"tags": ["VIP"]}))
    assert ok(client.get(f"/api/v1/customers/{ids[0]}/tags", headers=s.register_h))["tags"] \
        == ["vip"]
    ok(visit(client, s, ids[0]))  # visited now
    ok(visit(client, s, ids[1]))
    clock.advance(40 * 86400)
    ok(visit(client, s, ids[1]))  # ids[1] visited again within 30 days; ids[0] not
    sid = series(client)
    camp = ok(client.post("/api/v1/campaigns", headers=ADMIN_H,
                          json={"business": s.business, "name": "VIP regulars",
                                "kind": "filter", "series": sid,
                                "filter": {"tags": ["vip"], "visited_within_days": 30}}), 201)
    out = ok(client.post(f"/api/v1/campaigns/{camp['id']}/run", headers=ADMIN_H))
    assert out == {"campaign": camp["id"], "matched": 1, "issued": 1, "already": 0}
    again = ok(client.post(f"/api/v1/campaigns/{camp['id']}/run", headers=ADMIN_H))
    assert again == {"campaign": camp["id"], "matched": 1, "issued": 0, "already": 1}
    ok(visit(client, s, ids[2]))  # a new match joins
    third = ok(client.post(f"/api/v1/campaigns/{camp['id']}/run", headers=ADMIN_H))
    assert third["issued"] == 1 and third["already"] == 1
    with db.read() as sess:
        holders = sorted(str(h) for h in sess.scalars(
            select(Code.customer_id).where(Code.series_id == sid)))
    assert holders == sorted([ids[1], ids[2]])
    assert ok(client.get("/api/v1/campaigns", headers=ADMIN_H,
                         params={"business": s.business}))[0]["issued"] == 2

    everyone = ok(client.post("/api/v1/campaigns", headers=ADMIN_H,
                              json={"business": s.business, "name": "All members",
                                    "kind": "filter", "series": sid}), 201)
    assert ok(client.post(f"/api/v1/campaigns/{everyone['id']}/run",
                          headers=ADMIN_H))["issued"] == 4


def test_bad_campaigns_are_clear_errors(client: TestClient) -> None:
    s = seed(client)
    sid = series(client)
    base = {"business": s.business, "name": "x", "series": sid}
    r = client.post("/api/v1/campaigns", headers=ADMIN_H,
                    json={**base, "kind": "filter", "filter": {"visited_within_days": 0}})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == [
        "body", "filter.visited_within_days"]
    r = client.post("/api/v1/campaigns", headers=ADMIN_H,
                    json={**base, "kind": "check", "filter": {}})
    assert r.status_code == 422
    r = client.post("/api/v1/campaigns", headers=ADMIN_H,
                    json={**base, "kind": "filter", "filter": {"tags": ["no spaces"]}})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "filter.tags"]
    r = client.post("/api/v1/campaigns", headers=ADMIN_H,
                    json={**base, "kind": "filter", "series": 999999})
    assert r.status_code == 404
    assert client.post("/api/v1/campaigns/999999/run", headers=ADMIN_H).status_code == 404
    chk = ok(client.post("/api/v1/campaigns", headers=ADMIN_H,
                         json={**base, "kind": "check", "filter": {"min_total": "10"}}), 201)
    r = client.post(f"/api/v1/campaigns/{chk['id']}/run", headers=ADMIN_H)
    assert r.status_code == 409 and r.json()["detail"]["reason"] == "not_a_filter_campaign"
    r = client.put("/api/v1/customers/c_0000000000000000/tags", headers=ADMIN_H,
                   json={"tags": ["vip"]})
    assert r.status_code == 404
    assert client.post("/api/v1/campaigns", headers=s.kiosk_h,
                       json={**base, "kind": "filter"}).status_code == 403


def test_check_campaign_issues_on_matching_paid_checks(client: TestClient, db: Database) -> None:
    s = seed(client)
    cid = register(client, s)["customer"]
    sid = series(client, "Dessert on us")
    ok(client.post("/api/v1/campaigns", headers=ADMIN_H,
                   json={"business": s.business, "name": "Big order", "kind": "check",
                         "series": sid, "filter": {"min_total": "100.00"}}), 201)
    ok(client.post("/api/v1/campaigns", headers=ADMIN_H,
                   json={"business": s.business, "name": "Two cakes", "kind": "check",
                         "series": sid, "filter": {"item": s.cake, "min_qty": 2}}), 201)

    def paid_check(lines: list[dict[str, int]]) -> int:
        chk = ok(client.post("/api/v1/checks", headers=s.kiosk_h,
                             json={"business": s.business, "customer": cid, "lines": lines,
                                   "idempotency_key": key()}), 200, 201)
        for _ in range(2):  # a register retrying its close
            ok(client.post(f"/api/v1/register/checks/{chk['check']}/close",
                           headers=s.register_h, json={"paid": True}))
        return int(chk["check"])

    def issued() -> int:
        with db.read() as sess:
            return int(sess.scalar(select(func.count()).select_from(Code)
                                   .where(Code.series_id == sid)) or 0)

    paid_check([{"item": s.latte, "qty": 1}])  # 55.00: nothing
    assert issued() == 0
    paid_check([{"item": s.latte, "qty": 2}])  # 110.00: big order
    assert issued() == 1
    paid_check([{"item": s.cake, "qty": 3}])  # 149.70: big order and two cakes
    assert issued() == 3
    with db.read() as sess:
        assert set(sess.scalars(select(Code.customer_id).where(Code.series_id == sid))) == {cid}
    # the kiosk's summary lists them, on the campaign's own series or on a reward's
    ok(client.post("/api/v1/campaigns", headers=ADMIN_H,
                   json={"business": s.business, "name": "Coffee", "kind": "check",
                         "series": s.series, "filter": {"item": s.latte}}), 201)
    paid_check([{"item": s.latte, "qty": 1}])
    assert [c["name"] for c in coupons(client, s, "+380671234567")] == [
        "Dessert on us"] * 3 + ["Free coffee"]


def test_notifying_campaign_emails_the_coupon_qr(client: TestClient, db: Database,
                                                 clock: FakeClock) -> None:
    s = seed(client)
    cid = register(client, s)["customer"]
    r = client.put(f"/api/v1/customers/{cid}/contact", headers=s.kiosk_h,
                   json={"email": "not an email"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "email"]
    assert ok(client.put(f"/api/v1/customers/{cid}/contact", headers=s.kiosk_h,
                         json={"email": "olena@example.org"}))["email"] == "o***@example.org"
    sid = series(client)
    camp = ok(client.post("/api/v1/campaigns", headers=ADMIN_H,
                          json={"business": s.business, "name": "Hello", "kind": "filter",
                                "series": sid, "notify": True}), 201)
    with smtp_server() as (port, inbox):
        cfg = NotifySection(smtp_host="127.0.0.1", smtp_port=port)
        queue.configure(db, queue.Channels.from_config(cfg))
        try:
            assert ok(client.post(f"/api/v1/campaigns/{camp['id']}/run",
                                  headers=ADMIN_H))["issued"] == 1
            assert deliver_due(db, build_adapters(cfg), clock.now()).sent == 1
        finally:
            queue.configure(db, queue.Channels())
    (rcpts, mail), = inbox.mails
    assert rcpts == ["olena@example.org"]
    assert "Cafe" in str(mail["Subject"])
    (png,) = list(mail.iter_attachments())
    assert png.get_content_type() == "image/png"
    listed = ok(client.get("/api/v1/notifications", headers=ADMIN_H, params={"status": "sent"}))
    assert [(m["customer"], m["recipient"], m["channel"]) for m in listed] == [
        (cid, "o***@example.org", "email")]
    assert "olena" not in str(listed)
    assert client.get("/api/v1/notifications", headers=s.kiosk_h).status_code == 403
    bad = client.get("/api/v1/notifications", headers=ADMIN_H, params={"status": "nope"})
    assert bad.status_code == 422


@pytest.mark.parametrize("email", ["", "a@", "@b.org", "a b@c.org", "x" * 300 + "@b.org"])
def test_bad_emails(email: str) -> None:
    from hub.loyalty.contacts import BadEmail, normalize_email

    with pytest.raises(BadEmail):
        normalize_email(email)


def test_racing_runs_issue_once_per_customer(live: httpx.Client) -> None:
    s = seed(live)
    ids = [register(live, s, p)["customer"] for p in PHONES]
    sid = int(ok(live.post("/api/v1/series", headers=ADMIN_H,
                           json={"name": "Race", "kind": "coupon", "issue_limit": 100}),
                 201)["id"])
    camp = ok(live.post("/api/v1/campaigns", headers=ADMIN_H,
                        json={"business": s.business, "name": "All", "kind": "filter",
                              "series": sid}), 201)

    def run(_: int) -> int:
        return int(ok(live.post(f"/api/v1/campaigns/{camp['id']}/run",
                                headers=ADMIN_H))["issued"])

    with ThreadPoolExecutor(6) as pool:
        issued = list(pool.map(run, range(6)))
    assert sum(issued) == len(ids) and sorted(issued)[-1] == len(ids)
    listed = ok(live.get("/api/v1/campaigns", headers=ADMIN_H))
    assert [c["issued"] for c in listed if c["id"] == camp["id"]] == [len(ids)]


def test_an_exhausted_series_never_fails_a_close(client: TestClient, db: Database) -> None:
    s = seed(client)
    cid = register(client, s)["customer"]
    sid = int(ok(client.post("/api/v1/series", headers=ADMIN_H,
                             json={"name": "Only one", "kind": "coupon", "issue_limit": 1}),
                 201)["id"])
    ok(client.post("/api/v1/campaigns", headers=ADMIN_H,
                   json={"business": s.business, "name": "Latte lovers", "kind": "check",
                         "series": sid, "filter": {"item": s.latte}}), 201)
    for _ in range(2):
        chk = ok(client.post("/api/v1/checks", headers=s.kiosk_h,
                             json={"business": s.business, "customer": cid,
                                   "lines": [{"item": s.latte, "qty": 1}],
                                   "idempotency_key": key()}), 201)
        closed = ok(client.post(f"/api/v1/register/checks/{chk['check']}/close",
                                headers=s.register_h, json={"paid": True}))
        assert closed["status"] == "paid" and closed["points"] == 5
    with db.read() as sess:
        assert sess.scalar(select(func.count()).select_from(Code)
                           .where(Code.series_id == sid)) == 1
