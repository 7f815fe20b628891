"""Messages to customers through the hub's notification queue (``hub.notify.queue.enqueue``).

Queued in the caller's transaction, so a message is sent if and only if what it announces (a
birthday credit, a referral bonus, a one-time code) is committed.

The kinds ``wallet_link`` and ``wallet_code`` carry a secret (a working link, a one-time code):
the queue erases their text once they are sent or finally failed, and never keeps it when no
channel can carry them (``hub.notify.queue.SENSITIVE_KINDS``). A new kind with a secret in its
text is added there.
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
