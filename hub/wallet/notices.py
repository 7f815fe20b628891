"""Messages to customers through the hub's notification queue (``hub.notify.queue.enqueue``).

The queue is imported when first used, by name: the wallet is written against the contract's
signature (docs/contracts.md, "Notifications") and works, without sending, on a hub that does
not have the queue yet (the message is logged as not queued, with no phone number in it).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

log = logging.getLogger("venue.hub.wallet")


def _enqueue() -> Callable[..., Any] | None:
    try:
        module = importlib.import_module("hub.notify.queue")
    except ModuleNotFoundError:
        return None
    fn: Callable[..., Any] | None = getattr(module, "enqueue", None)
    return fn


def send(session: Session, *, customer: str, kind: str, text: str, key: str, now: datetime,
         subject: str = "") -> int | None:
    """Queue ``text`` to ``customer`` in the caller's transaction; the queued message's id, or
    ``None`` (no channel for this customer, or no queue in this hub).

    Repeating ``key`` queues nothing new (the queue's own idempotency).
    """
    enqueue = _enqueue()
    if enqueue is None:
        log.warning("notification %s for %s not queued: this hub has no notification queue",
                    kind, customer)
        return None
    result = enqueue(session, customer=customer, kind=kind, text=text, subject=subject,
                     idempotency_key=key[:160], now=now)
    return None if result is None else int(result)
