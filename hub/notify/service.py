"""Wiring notifications into the running hub: channels per ``[notify]``, the sender thread."""

from __future__ import annotations

from hub.config import HubConfig
from hub.db import Database
from hub.notify.adapters import build_adapters
from hub.notify.queue import Channels, configure, redact_finished
from hub.notify.sender import NotifySender, Policy
from venue.clock import Clock


def start(config: HubConfig, db: Database, *, clock: Clock,
          interval_s: float = 2.0) -> NotifySender | None:
    """Register the configured channels for ``db`` and start the sender (``None`` when no
    channel is configured: messages are then recorded as ``no_channel``)."""
    n = config.notify
    configure(db, Channels.from_config(n))
    with db.write() as s:  # texts with a secret left by a hub from before the rule
        redact_finished(s)
    adapters = build_adapters(n)
    if not adapters:
        return None
    sender = NotifySender(db, adapters, clock=clock, interval_s=interval_s,
                          policy=Policy(max_attempts=n.max_attempts, retry_base_s=n.retry_base_s))
    sender.start()
    return sender
