"""A reward redeemed at the kiosk tells the customer: the coupon's QR by email (a real aiosmtpd
server receives it) or its serial by SMS (a real local HTTP gateway), queued in the redemption's
transaction (nothing when the spend is refused or rolled back), once per redemption key."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest
from fastapi.testclient import TestClient
from loyaltykit import ADMIN_H, Seeded, key, ok, register, seed
from notifykit import sms_gateway, smtp_server
from sqlalchemy import select

from hub.config import NotifySection
from hub.db import Database
from hub.delivery import qr_png
from hub.loyalty.campaigns import EMAIL_QR_SCALE
from hub.notify import queue
from hub.notify.adapters import build_adapters
from hub.notify.models import Message
from hub.notify.sender import deliver_due
from venue.clock import FakeClock


@pytest.fixture
def channels_reset(db: Database) -> Iterator[None]:
    """The channels are registered per database URL: put them back for the next test."""
    yield
    queue.configure(db, queue.Channels())


def _earn(c: TestClient, s: Seeded, customer: str) -> None:
    ok(c.post("/api/v1/visits", headers=s.kiosk_h,
              json={"customer": customer, "business": s.business, "source": "kiosk",
                    "device": "k1", "idempotency_key": key()}))


def _messages(db: Database, customer: str) -> list[tuple[str, str, str, str]]:
    with db.read() as ses:
        return [(m.kind, m.idempotency_key, m.status, m.text) for m in ses.scalars(
            select(Message).where(Message.customer_id == customer).order_by(Message.id))]


def test_redeem_sends_the_coupon_by_email(client: TestClient, db: Database, clock: FakeClock,
                                          channels_reset: None) -> None:
    s = seed(client, visit_points=60, cooldown_s=0, cost=50)
    a = register(client, s)["customer"]
    ok(client.put(f"/api/v1/customers/{a}/contact", json={"email": "ann@example.org"},
                  headers=ADMIN_H))
    with smtp_server() as (port, inbox):
        cfg = NotifySection(smtp_host="127.0.0.1", smtp_port=port, mail_from="cafe@venue.test")
        queue.configure(db, queue.Channels.from_config(cfg))
        _earn(client, s, a)
        k = key()
        first = ok(client.post(f"/api/v1/rewards/{s.reward}/redeem", headers=s.kiosk_h,
                               json={"customer": a, "idempotency_key": k}), 201)
        again = ok(client.post(f"/api/v1/rewards/{s.reward}/redeem", headers=s.kiosk_h,
                               json={"customer": a, "idempotency_key": k}), 201)
        assert again == first
        # 10 points left: refused, nothing queued
        r = client.post(f"/api/v1/rewards/{s.reward}/redeem", headers=s.kiosk_h,
                        json={"customer": a, "idempotency_key": key()})
        assert r.status_code == 409
        queued = _messages(db, a)
        assert [(kind, idem, status) for kind, idem, status, _ in queued] == [
            ("coupon", f"redeem:{s.business}:{k}", "pending")]
        assert deliver_due(db, build_adapters(cfg), clock.now()).sent == 1
        assert len(inbox.mails) == 1
        rcpts, mail = inbox.mails[0]
        assert rcpts == ["ann@example.org"] and mail["Subject"] == "Cafe: Free coffee"
        coupon = first["coupon"]
        parts = list(mail.iter_attachments())
        assert [p.get_filename() for p in parts] == ["coupon.png"]
        assert parts[0].get_content() == qr_png(coupon["code"], scale=EMAIL_QR_SCALE)
        body = mail.get_body(("plain",))
        assert body is not None and coupon["serial"] in body.get_content()
    listing = ok(client.get("/api/v1/notifications", headers=ADMIN_H))
    assert [(n["kind"], n["status"], n["channel"]) for n in listing] == [
        ("coupon", "sent", "email")]


def test_redeem_sends_an_sms_and_a_rolled_back_redeem_sends_nothing(
        client: TestClient, db: Database, clock: FakeClock, channels_reset: None) -> None:
    s = seed(client, visit_points=100, cooldown_s=0, cost=50)
    a = register(client, s)["customer"]
    # a reward whose series can issue one coupon only, its code shown once used
    one = ok(client.post("/api/v1/series", headers=ADMIN_H,
                         json={"name": "Last cake", "kind": "coupon", "issue_limit": 1,
                               "code_visibility": "on_redeem"}), 201)["id"]
    cake = ok(client.post("/api/v1/rewards", headers=ADMIN_H,
                          json={"business": s.business, "name": "Last cake", "cost": 5,
                                "series": one}), 201)["id"]
    with sms_gateway() as gw:
        cfg = NotifySection(sms_url=gw.url + "/send", sms_body="to={phone}&text={text}")
        queue.configure(db, queue.Channels.from_config(cfg))
        _earn(client, s, a)
        ok(client.post(f"/api/v1/rewards/{cake}/redeem", headers=s.kiosk_h,
                       json={"customer": a, "idempotency_key": key()}), 201)
        r = client.post(f"/api/v1/rewards/{cake}/redeem", headers=s.kiosk_h,
                        json={"customer": a, "idempotency_key": key()})
        assert r.status_code == 409 and r.json()["detail"]["reason"] == "unavailable"
        assert len(_messages(db, a)) == 1  # the refused one queued nothing
        assert deliver_due(db, build_adapters(cfg), clock.now()).sent == 1
        assert len(gw.requests) == 1
        sent = parse_qs(gw.requests[0]["body"].decode())
        # the series shows its code only once used: the message does not carry it
        assert sent["text"] == ["Cafe: a coupon for you, Last cake. It is in your wallet."]
    points = ok(client.post("/api/v1/kiosk/identify", headers=s.kiosk_h,
                            json={"phone": "+380671234567", "businesses": [s.business]}))
    assert points["balances"][0]["points"] == 95  # the failed redeem spent nothing


def test_without_a_channel_nothing_is_queued(client: TestClient, db: Database) -> None:
    s = seed(client, visit_points=60, cooldown_s=0, cost=50)
    a = register(client, s)["customer"]
    _earn(client, s, a)
    ok(client.post(f"/api/v1/rewards/{s.reward}/redeem", headers=s.kiosk_h,
                   json={"customer": a, "idempotency_key": key()}), 201)
    assert _messages(db, a) == []
