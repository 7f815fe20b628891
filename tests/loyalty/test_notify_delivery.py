"""Delivery against real endpoints: an email with the QR attached reaches a local SMTP server
(aiosmtpd); SMS reach a local HTTP gateway, are retried with backoff (500, 500, 200 → sent on
attempt 3), and end ``failed`` after ``max_attempts`` without touching what they announced."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from notifykit import sms_gateway, smtp_server
from sqlalchemy import select

from hub.config import NotifySection
from hub.db import Database
from hub.delivery import qr_png
from hub.loyalty import contacts, identity
from hub.loyalty.campaigns import EMAIL_QR_SCALE
from hub.notify import queue
from hub.notify.adapters import SmsGatewayAdapter, build_adapters
from hub.notify.models import Attempt, Message
from hub.notify.sender import NotifySender, Policy, Report, after_attempt, deliver_due
from venue.clock import FakeClock

PHONE = "+380671234567"


@pytest.fixture
def sqlite_db(tmp_path: Path, clock: FakeClock) -> Iterator[Database]:
    """SQLite only, for tests of an adapter or the thread (the queue's database paths are
    covered on both backends by the other tests)."""
    from hubkit import make_db

    d = make_db(f"sqlite:///{tmp_path / 'hub.sqlite3'}", clock)
    yield d
    d.dispose()


@pytest.fixture
def customer(any_db: Database, clock: FakeClock) -> Iterator[str]:
    with any_db.write() as s:
        row, _ = identity.register(s, identity.phone_secret(s), PHONE, device="t",
                                   now=clock.now())
        cid = row.id
    yield cid
    queue.configure(any_db, queue.Channels())


@pytest.fixture
def sqlite_customer(sqlite_db: Database, clock: FakeClock) -> Iterator[str]:
    with sqlite_db.write() as s:
        row, _ = identity.register(s, identity.phone_secret(s), PHONE, device="t",
                                   now=clock.now())
        cid = row.id
    yield cid
    queue.configure(sqlite_db, queue.Channels())


def status_of(db: Database, msg_id: int) -> SimpleNamespace:
    """A snapshot of the message row (a read session's objects expire at its end)."""
    with db.read() as s:
        msg = s.get(Message, msg_id)
        assert msg is not None
        return SimpleNamespace(**{c.key: getattr(msg, c.key) for c in Message.__table__.c})


def test_backoff_doubles_and_ends_failed(clock: FakeClock) -> None:
    p = Policy(max_attempts=3, retry_base_s=10)
    now = clock.now()
    assert after_attempt(attempt=1, ok=False, policy=p, now=now).next_at == now + timedelta(
        seconds=10)
    assert after_attempt(attempt=2, ok=False, policy=p, now=now).next_at == now + timedelta(
        seconds=20)
    assert after_attempt(attempt=3, ok=False, policy=p, now=now).status == "failed"
    assert after_attempt(attempt=3, ok=True, policy=p, now=now).status == "sent"


def test_email_with_qr_reaches_the_smtp_server(any_db: Database, clock: FakeClock,
                                               customer: str) -> None:
    with smtp_server() as (port, inbox):
        cfg = NotifySection(smtp_host="127.0.0.1", smtp_port=port, mail_from="cafe@venue.test")
        queue.configure(any_db, queue.Channels.from_config(cfg))
        with any_db.write() as s:
            contacts.set_email(s, identity.phone_secret(s), customer, "ann@example.org",
                               now=clock.now())
            png = qr_png("V1TESTCODE", scale=EMAIL_QR_SCALE)
            msg_id = queue.enqueue(s, customer=customer, kind="coupon", subject="Your coupon",
                                   text="Show this QR at the counter.",
                                   attachments=[("coupon.png", "image/png", png)],
                                   idempotency_key="mail:1", now=clock.now())
        assert msg_id is not None
        report = deliver_due(any_db, build_adapters(cfg), clock.now())
        assert report.sent == 1
        assert len(inbox.mails) == 1
        rcpts, mail = inbox.mails[0]
        assert rcpts == ["ann@example.org"]
        assert mail["Subject"] == "Your coupon" and mail["From"] == "cafe@venue.test"
        parts = [p for p in mail.iter_attachments()]
        assert [p.get_filename() for p in parts] == ["coupon.png"]
        data = parts[0].get_content()
        assert data == png and data.startswith(b"\x89PNG")
        body = mail.get_body(("plain",))
        assert body is not None and "Show this QR" in body.get_content()
        # sent once: the next step finds nothing due
        assert deliver_due(any_db, build_adapters(cfg), clock.now() + timedelta(hours=1)).sent \
            == 0
    msg = status_of(any_db, msg_id)
    assert msg.status == "sent" and msg.attempts == 1 and msg.recipient_masked == "a***@example.org"


def test_sms_retried_with_backoff_and_sent_on_attempt_3(any_db: Database, clock: FakeClock,
                                                        customer: str) -> None:
    with sms_gateway([500, 500, 200]) as gw:
        cfg = NotifySection(sms_url=gw.url + "/send?to={phone}", sms_auth="Bearer gw-secret",
                            sms_body='{"to": "{phone}", "text": "{text}"}', max_attempts=5,
                            retry_base_s=30)
        queue.configure(any_db, queue.Channels.from_config(cfg))
        with any_db.write() as s:
            msg_id = queue.enqueue(s, customer=customer, kind="coupon",
                                   text='Coupon "A-1" is yours', idempotency_key="sms:1",
                                   now=clock.now())
        assert msg_id is not None
        adapters, policy = build_adapters(cfg), Policy(max_attempts=5, retry_base_s=30)
        assert deliver_due(any_db, adapters, clock.now(), policy=policy).retrying == 1
        # not due again before its backoff (30 s)
        clock.advance(29)
        assert deliver_due(any_db, adapters, clock.now(), policy=policy) == Report()
        clock.advance(1)
        assert deliver_due(any_db, adapters, clock.now(), policy=policy).retrying == 1
        clock.advance(59)
        assert deliver_due(any_db, adapters, clock.now(), policy=policy).sent == 0
        clock.advance(1)  # second backoff: 60 s
        assert deliver_due(any_db, adapters, clock.now(), policy=policy).sent == 1
        assert len(gw.requests) == 3
        req = gw.requests[-1]
        assert req["path"] == "/send?to=%2B380671234567"
        assert req["auth"] == "Bearer gw-secret" and req["type"] == "application/json"
        assert json.loads(req["body"]) == {"to": PHONE, "text": 'Coupon "A-1" is yours'}
    msg = status_of(any_db, msg_id)
    assert msg.status == "sent" and msg.attempts == 3
    with any_db.read() as s:
        attempts = [(a.number, a.ok, a.error) for a in s.scalars(
            select(Attempt).where(Attempt.message_id == msg_id).order_by(Attempt.number))]
    assert attempts == [
        (1, False, "gateway answered 500"), (2, False, "gateway answered 500"), (3, True, None)]


def test_sms_always_failing_ends_failed_and_holds_no_number(any_db: Database, clock: FakeClock,
                                                            customer: str) -> None:
    with sms_gateway([503] * 10) as gw:
        cfg = NotifySection(sms_url=gw.url + "/sms", sms_body="to={phone}&msg={text}")
        queue.configure(any_db, queue.Channels.from_config(cfg))
        with any_db.write() as s:
            msg_id = queue.enqueue(s, customer=customer, kind="coupon", text="hi & bye",
                                   idempotency_key="sms:2", now=clock.now())
        assert msg_id is not None
        policy = Policy(max_attempts=3, retry_base_s=1)
        for _ in range(5):
            deliver_due(any_db, build_adapters(cfg), clock.now(), policy=policy)
            clock.advance(10)
        assert len(gw.requests) == 3
        assert gw.requests[0]["body"] == b"to=%2B380671234567&msg=hi+%26+bye"
    msg = status_of(any_db, msg_id)
    assert msg.status == "failed" and msg.attempts == 3
    assert msg.last_error == "gateway answered 503"
    assert PHONE[4:] not in msg.recipient_masked


def test_unreachable_gateway_is_a_recorded_failure(sqlite_db: Database, clock: FakeClock,
                                                   sqlite_customer: str) -> None:
    from notifykit import free_port

    queue.configure(sqlite_db, queue.Channels(sms=True))
    with sqlite_db.write() as s:
        msg_id = queue.enqueue(s, customer=sqlite_customer, kind="x", text="x",
                               idempotency_key="sms:3", now=clock.now())
    assert msg_id is not None
    adapter = SmsGatewayAdapter(url=f"http://127.0.0.1:{free_port()}/x", timeout=2)
    assert deliver_due(sqlite_db, {"sms": adapter}, clock.now()).retrying == 1
    msg = status_of(sqlite_db, msg_id)
    assert msg.status == "pending" and msg.last_error is not None
    assert msg.last_error.startswith("gateway unreachable")


def test_background_sender_delivers(sqlite_db: Database, clock: FakeClock,
                                    sqlite_customer: str) -> None:
    from hubkit import wait_for

    with sms_gateway() as gw:
        cfg = NotifySection(sms_url=gw.url + "/sms")
        queue.configure(sqlite_db, queue.Channels.from_config(cfg))
        sender = NotifySender(sqlite_db, build_adapters(cfg), clock=clock, interval_s=0.05)
        sender.start()
        try:
            with sqlite_db.write() as s:
                msg_id = queue.enqueue(s, customer=sqlite_customer, kind="x", text="hello",
                                       idempotency_key="bg:1", now=clock.now())
            assert msg_id is not None
            wait_for(lambda: status_of(sqlite_db, msg_id).status == "sent", what="sent")
        finally:
            sender.stop()
        assert len(gw.requests) == 1


def test_email_over_starttls_with_login(sqlite_db: Database, clock: FakeClock,
                                        sqlite_customer: str, tmp_path: Path) -> None:
    from notifykit import self_signed

    cert, key = self_signed(tmp_path)
    pw = tmp_path / "smtp-password"
    pw.write_text("s3cret\n")
    with sqlite_db.write() as s:
        contacts.set_email(s, identity.phone_secret(s), sqlite_customer, "ann@example.org",
                           now=clock.now())
    with smtp_server(tls=(cert, key), login=("venue", "s3cret")) as (port, inbox):
        queue.configure(sqlite_db, queue.Channels(email=True))
        for k in ("untrusted", "trusted", "wrong-password"):
            with sqlite_db.write() as s:
                queue.enqueue(s, customer=sqlite_customer, kind="x", text=k, subject=k,
                              idempotency_key=f"tls:{k}", now=clock.now())
            wrong = k == "wrong-password"
            cfg = NotifySection(smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=True,
                                smtp_user="venue",
                                smtp_password="nope" if wrong else None,
                                smtp_password_file=None if wrong else str(pw),
                                smtp_cafile=None if k == "untrusted" else str(cert))
            deliver_due(sqlite_db, build_adapters(cfg), clock.now())
        assert [str(m["Subject"]) for _, m in inbox.mails] == ["trusted"]
    with sqlite_db.read() as s:
        errors = {m.subject: m.last_error for m in s.scalars(select(Message))}
    assert errors["trusted"] is None
    assert "SSLCertVerificationError" in (errors["untrusted"] or "")
    assert (errors["wrong-password"] or "").startswith("SMTP 535")
