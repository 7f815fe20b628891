"""A wallet link or a one-time code is kept in the notification queue only until it is sent or
has finally failed; then its text is a short note. The admin listing never shows it; texts
without a secret (a coupon's) stay. A real local SMS gateway receives the messages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest
from fastapi.testclient import TestClient
from loyaltykit import ADMIN_H, ok, register, seed
from notifykit import sms_gateway
from sqlalchemy import select

from hub.config import NotifySection
from hub.db import Database
from hub.notify import queue
from hub.notify.adapters import build_adapters
from hub.notify.models import Attempt, Message
from hub.notify.sender import Policy, deliver_due
from venue.clock import FakeClock


@pytest.fixture
def channels_reset(db: Database) -> Iterator[None]:
    yield
    queue.configure(db, queue.Channels())


def _rows(db: Database) -> list[dict[str, Any]]:
    with db.read() as s:
        return [{"kind": m.kind, "status": m.status, "text": m.text, "error": m.last_error}
                for m in s.scalars(select(Message).order_by(Message.id))]


def _attempt_errors(db: Database) -> list[str]:
    with db.read() as s:
        return [a.error or "" for a in s.scalars(select(Attempt))]


def test_a_sent_wallet_link_is_erased_from_the_queue(client: TestClient, db: Database,
                                                     clock: FakeClock,
                                                     channels_reset: None) -> None:
    s = seed(client)
    a = register(client, s)["customer"]
    with sms_gateway() as gw:
        cfg = NotifySection(sms_url=gw.url + "/send", sms_body="to={phone}&text={text}")
        queue.configure(db, queue.Channels.from_config(cfg))
        link = ok(client.post(f"/api/v1/customers/{a}/wallet-link", json={"send": True},
                              headers=ADMIN_H), 201)
        token = link["url"].rsplit("/", 1)[1]
        # a coupon's message too: it keeps its text
        series = ok(client.post("/api/v1/series", headers=ADMIN_H,
                                json={"name": "Poster gift", "kind": "coupon"}), 201)["id"]
        qr = ok(client.post("/api/v1/campaign-qr", headers=ADMIN_H,
                            json={"business": s.business, "name": "Poster", "series": series,
                                  "notify": True}), 201)
        ok(client.post("/api/v1/campaign-qr/claim", headers=s.kiosk_h,
                       json={"customer": a, "code": qr["code"], "idempotency_key": "q1"}), 201)
        pending = _rows(db)
        assert [r["kind"] for r in pending] == ["wallet_link", "coupon"]
        assert token in pending[0]["text"]  # needed until it is sent
        assert token not in str(ok(client.get("/api/v1/notifications", headers=ADMIN_H)))
        assert deliver_due(db, build_adapters(cfg), clock.now()).sent == 2
        assert token in parse_qs(gw.requests[0]["body"].decode())["text"][0]
    done = _rows(db)
    assert [r["status"] for r in done] == ["sent", "sent"]
    assert done[0]["text"] == "[wallet_link sent; its text held a secret and was erased]"
    assert done[1]["text"].startswith("Cafe: a coupon for you, Poster gift.")
    listing = ok(client.get("/api/v1/notifications", headers=ADMIN_H))
    assert token not in str(listing) and len(listing) == 2
    # the link itself still works: only the queue's copy is gone
    assert client.get(f"/w/{token}").status_code == 200


def test_a_failed_one_time_code_is_erased_and_not_in_the_errors(client: TestClient,
                                                                db: Database,
                                                                clock: FakeClock,
                                                                channels_reset: None) -> None:
    s = seed(client)
    register(client, s)
    with sms_gateway([503, 503]) as gw:
        # the gateway's URL carries the text: an error naming the URL must not keep it
        cfg = NotifySection(sms_url=gw.url + "/send?to={phone}&text={text}", max_attempts=2,
                            retry_base_s=1)
        queue.configure(db, queue.Channels.from_config(cfg))
        ok(client.post("/w/request", json={"phone": "067 123 45 67"}), 202)
        code = _rows(db)[0]["text"].split("code: ")[1][:6]
        assert code.isdigit()
        policy = Policy(max_attempts=2, retry_base_s=1)
        assert deliver_due(db, build_adapters(cfg), clock.now(), policy=policy).retrying == 1
        assert code in _rows(db)[0]["text"]  # still to be sent
        clock.advance(2)
        assert deliver_due(db, build_adapters(cfg), clock.now(), policy=policy).failed == 1
        assert len(gw.requests) == 2
    row = _rows(db)[0]
    assert row["status"] == "failed" and code not in row["text"]
    assert row["text"] == "[wallet_code not delivered; its text held a secret and was erased]"
    assert all(code not in e for e in _attempt_errors(db)) and code not in (row["error"] or "")
    assert code not in str(ok(client.get("/api/v1/notifications", headers=ADMIN_H)))


def test_texts_left_by_an_older_hub_are_erased_at_start(db: Database, client: TestClient,
                                                        clock: FakeClock) -> None:
    s = seed(client)
    a = register(client, s)["customer"]
    queue.configure(db, queue.Channels(sms=True))
    try:
        with db.write() as ses:
            for kind, k in (("wallet_code", "old-1"), ("wallet_link", "old-2"),
                            ("coupon", "old-3"), ("wallet_code", "old-4")):
                queue.enqueue(ses, customer=a, kind=kind, text=f"secret {k}",
                              idempotency_key=k, now=clock.now())
            for m in ses.scalars(select(Message).where(Message.idempotency_key != "old-4")):
                m.status = "sent"  # as a hub before this rule left them
    finally:
        queue.configure(db, queue.Channels())
    with db.write() as ses:
        assert queue.redact_finished(ses) == 2
    with db.write() as ses:
        assert queue.redact_finished(ses) == 0
    texts = [r["text"] for r in _rows(db)]
    assert texts == ["[wallet_code sent; its text held a secret and was erased]",
                     "[wallet_link sent; its text held a secret and was erased]",
                     "secret old-3", "secret old-4"]  # a coupon's; one still pending
