"""The notification queue: channel choice, idempotent enqueue in the caller's transaction, and
nothing queued when the caller's transaction rolls back (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from hub.db import Database
from hub.loyalty import contacts, identity
from hub.loyalty.errors import UnknownCustomer
from hub.notify import queue
from hub.notify.models import Attachment, Message
from venue.clock import FakeClock

PHONE = "+380671234567"


@pytest.fixture
def customer(db: Database, clock: FakeClock) -> Iterator[str]:
    with db.write() as s:
        sec = identity.phone_secret(s)
        row, _ = identity.register(s, sec, PHONE, device="t", now=clock.now())
        cid = row.id
    yield cid
    queue.configure(db, queue.Channels())


def count(db: Database, status: str | None = None) -> int:
    with db.read() as s:
        stmt = select(func.count()).select_from(Message)
        if status:
            stmt = stmt.where(Message.status == status)
        return int(s.scalar(stmt) or 0)


def test_choose_channel_prefers_email_on_file_then_sms() -> None:
    both = queue.Channels(email=True, sms=True)
    assert queue.choose_channel(both, email_masked="a***@x.org", phone_masked="+380******67") \
        == queue.Route("email", "a***@x.org")
    assert queue.choose_channel(both, email_masked=None, phone_masked="+38") \
        == queue.Route("sms", "+38")
    assert queue.choose_channel(queue.Channels(email=True), email_masked=None,
                                phone_masked="+38") == queue.Route("", "")


def test_no_channel_is_recorded_and_returns_none(db: Database, clock: FakeClock,
                                                 customer: str) -> None:
    with db.write() as s:
        assert queue.enqueue(s, customer=customer, kind="coupon", text="hi",
                             idempotency_key="k1", now=clock.now()) is None
    assert count(db, "no_channel") == 1
    with db.write() as s:  # the same key again: still nothing new
        assert queue.enqueue(s, customer=customer, kind="coupon", text="hi",
                             idempotency_key="k1", now=clock.now()) is None
    assert count(db) == 1


def test_enqueue_is_idempotent_and_picks_email_with_attachment(
        db: Database, clock: FakeClock, customer: str) -> None:
    queue.configure(db, queue.Channels(email=True, sms=True))
    with db.write() as s:
        sms_id = queue.enqueue(s, customer=customer, kind="coupon", text="code 1",
                               idempotency_key="sms-1", now=clock.now())
    with db.write() as s:
        contacts.set_email(s, identity.phone_secret(s), customer, " Ann@Example.ORG ",
                           now=clock.now())
    ids = set()
    for _ in range(3):
        with db.write() as s:
            ids.add(queue.enqueue(s, customer=customer, kind="coupon", text="code 2",
                                  subject="Your coupon",
                                  attachments=[("qr.png", "image/png", b"\x89PNG")],
                                  idempotency_key="mail-1", now=clock.now()))
    assert len(ids) == 1 and None not in ids and sms_id not in ids
    with db.read() as s:
        rows = {m.idempotency_key: m for m in s.scalars(select(Message))}
        assert rows["sms-1"].channel == "sms"
        assert rows["sms-1"].recipient_masked != PHONE and PHONE[-7:] not in \
            rows["sms-1"].recipient_masked
        assert rows["mail-1"].channel == "email"
        assert rows["mail-1"].recipient_masked == "A***@example.org"
        assert s.scalar(select(func.count()).select_from(Attachment)) == 1


def test_rolled_back_caller_queues_nothing(db: Database, clock: FakeClock,
                                           customer: str) -> None:
    queue.configure(db, queue.Channels(sms=True))
    with pytest.raises(RuntimeError), db.write() as s:
        queue.enqueue(s, customer=customer, kind="coupon", text="x", idempotency_key="gone",
                      now=clock.now())
        raise RuntimeError("what the message announced failed")
    assert count(db) == 0


def test_unknown_customer(db: Database, clock: FakeClock) -> None:
    with pytest.raises(UnknownCustomer), db.write() as s:
        queue.enqueue(s, customer="c_0000000000000000", kind="x", text="x",
                      idempotency_key="u", now=clock.now())
