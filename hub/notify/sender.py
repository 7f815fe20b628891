"""Delivering queued messages: claim the due ones, send outside any transaction, record.

One step (:func:`deliver_due`) does it for everything due at ``now``; :class:`NotifySender` runs
that step in a background thread of the hub. A message being sent is *leased*: its ``next_at``
moves one lease ahead before the send, so another hub replica (or this one after a crash) tries it
again only when the lease has run out. A send is therefore at least once, never lost; a hub that
dies between the gateway's "ok" and the commit sends that message again.

Backoff after a failed attempt ``n`` (1-based): ``retry_base_s * 2**(n-1)``; after
``max_attempts`` the message is ``failed``. What the message announced (a coupon) is never
touched by a failure.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote, quote_plus

from sqlalchemy import select

from hub.db import Database
from hub.loyalty import contacts, identity
from hub.loyalty.models import Customer
from hub.notify.adapters import Adapter, DeliveryFailed, Outgoing
from hub.notify.models import Attachment, Attempt, Message
from hub.notify.queue import FAILED, PENDING, SENT, redact
from venue import phone
from venue.clock import Clock

log = logging.getLogger("venue.hub.notify")


@dataclass(frozen=True, slots=True)
class Policy:
    """Retry policy (from ``[notify]``)."""

    max_attempts: int = 5
    retry_base_s: float = 30.0
    lease_s: float = 300.0
    batch: int = 50


@dataclass(frozen=True, slots=True)
class Outcome:
    """What to write after an attempt: the new status and when to try again."""

    status: str
    next_at: datetime


def after_attempt(*, attempt: int, ok: bool, policy: Policy, now: datetime) -> Outcome:
    """Sent, or retried after ``retry_base_s * 2**(attempt-1)``, or failed at the last attempt."""
    if ok:
        return Outcome(SENT, now)
    if attempt >= policy.max_attempts:
        return Outcome(FAILED, now)
    return Outcome(PENDING, now + timedelta(seconds=policy.retry_base_s * 2 ** (attempt - 1)))


@dataclass(frozen=True, slots=True)
class Report:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


def _claim(db: Database, now: datetime, policy: Policy) -> list[tuple[int, int, Outgoing]]:
    """Lease the due messages and resolve their addresses (decrypted here, kept in memory)."""
    out: list[tuple[int, int, Outgoing]] = []
    with db.write() as s:
        stmt = (select(Message).where(Message.status == PENDING, Message.next_at <= now)
                .order_by(Message.next_at, Message.id).limit(policy.batch))
        if not db.is_sqlite:
            stmt = stmt.with_for_update(skip_locked=True)
        due = list(s.scalars(stmt))
        if not due:
            return out
        secret = identity.phone_secret(s)
        for msg in due:
            msg.attempts += 1
            msg.next_at = now + timedelta(seconds=policy.lease_s)
            to: str | None
            if msg.channel == "email":
                to = contacts.email_of(s, secret, msg.customer_id)
            else:
                cust = s.get(Customer, msg.customer_id)
                to = None if cust is None else secret.decrypt(cust.phone_enc)
            files = tuple((a.filename, a.content_type, a.data) for a in s.scalars(
                select(Attachment).where(Attachment.message_id == msg.id).order_by(Attachment.id)))
            out.append((msg.id, msg.attempts, Outgoing(msg.channel, to or "", msg.subject,
                                                       msg.text, files)))
    return out


def _record(db: Database, msg_id: int, attempt: int, error: str | None, now: datetime,
            policy: Policy) -> str:
    outcome = after_attempt(attempt=attempt, ok=error is None, policy=policy, now=now)
    with db.write() as s:
        msg = s.scalar(select(Message).where(Message.id == msg_id).with_for_update())
        assert msg is not None
        s.add(Attempt(message_id=msg_id, number=attempt, at=now, ok=error is None, error=error))
        if msg.status != PENDING or msg.attempts != attempt:
            return msg.status  # another sender took it over after our lease ran out
        msg.status, msg.next_at = outcome.status, outcome.next_at
        msg.last_error = error
        if error is None:
            msg.sent_at = now
        redact(msg)  # sent or failed for good: a one-time code or link in it is erased
    return outcome.status


def _scrub(text: str, out: Outgoing) -> str:
    """An error as recorded: no address, no phone number, no text of the message (a gateway
    may echo its URL, which holds the text)."""
    if out.to:
        text = text.replace(out.to, "[recipient]")
    if out.text:
        for form in {out.text, quote(out.text, safe=""), quote_plus(out.text)}:
            text = text.replace(form, "[text]")
    return phone.redact(text)[:300]


def deliver_due(db: Database, adapters: Mapping[str, Adapter], now: datetime, *,
                policy: Policy | None = None) -> Report:
    """Send every message due at ``now`` once; record each attempt and its outcome."""
    policy = policy or Policy()
    sent = retrying = failed = 0
    for msg_id, attempt, out in _claim(db, now, policy):
        adapter = adapters.get(out.channel)
        error: str | None = None
        if adapter is None:
            error = f"channel {out.channel!r} is not configured"
        elif not out.to:
            error = "no address on file"
        else:
            try:
                adapter.send(out)
            except DeliveryFailed as exc:
                error = _scrub(str(exc), out)
            except Exception as exc:  # an adapter bug must not stop the queue
                error = _scrub(f"{type(exc).__name__}: {exc}", out)
        status = _record(db, msg_id, attempt, error, now, policy)
        if status == SENT:
            sent += 1
        elif status == FAILED:
            failed += 1
            log.warning("notification %s failed after %s attempts: %s", msg_id, attempt, error)
        else:
            retrying += 1
    return Report(sent, retrying, failed)


class NotifySender:
    """The hub's background sender: a :func:`deliver_due` step every ``interval_s``."""

    def __init__(self, db: Database, adapters: Mapping[str, Adapter], *, clock: Clock,
                 policy: Policy | None = None, interval_s: float = 2.0) -> None:
        self.db, self.adapters, self.clock = db, adapters, clock
        self.policy = policy or Policy()
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="notify-sender", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                deliver_due(self.db, self.adapters, self.clock.now(), policy=self.policy)
            except Exception:  # the database away for a moment: try again next round
                log.exception("notification step failed")
            self._stop.wait(self.interval_s)

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
