"""Messages to customers through the hub's notification queue (``hub.notify.queue.enqueue``).

Queued in the caller's transaction, so a message is sent if and only if what it announces (a
birthday credit, a referral bonus, a one-time code) is committed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from hub.notify.queue import enqueue


def send(session: Session, *, customer: str, kind: str, text: str, key: str, now: datetime,
         subject: str = "") -> int | None:
    """Queue ``text`` to ``customer``; the queued message's id, or ``None`` when no channel can
    carry it (recorded by the queue as ``no_channel``). Repeating ``key`` queues nothing new."""
    return enqueue(session, customer=customer, kind=kind, text=text, subject=subject,
                   idempotency_key=key[:160], now=now)
