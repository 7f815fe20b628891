"""The hub's live view of the venue for operators: one observer MQTT connection that folds status,
telemetry and events into a :class:`venue.monitor.VenueView` (the same fold as ``venue
monitor``), keeps recent events for the dashboard's event stream, and carries commands and their
answers.

It is a second connection next to the ingest's on purpose: a clean session under its own client
id, no acks to manage, and no change to how events are stored. It sees what the broker sends
while it is connected; what happened before is in the hub's tables.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from hub.ops.commands import ResultWaiter, Target
from venue.clock import SYSTEM_CLOCK, Clock
from venue.config import MqttSection
from venue.errors import PayloadError
from venue.messages import Event, Status, rfc3339
from venue.monitor import VenueView
from venue.mqtt import InboundMessage, MqttLink
from venue.phone import mask
from venue.topics import parse_topic, site_filter

log = logging.getLogger(__name__)

FEED_SIZE = 500
"""Recent items kept for event-stream clients that reconnect (``Last-Event-ID``)."""
_PHONE = re.compile(r"^\+?[0-9][0-9 ().-]{6,20}[0-9]$")


def scrub(value: Any, key: str = "") -> Any:
    """A copy with anything that could be a phone number masked (events should hold none; this
    makes sure a buggy device cannot put one on an operator's screen)."""
    if isinstance(value, dict):
        return {k: scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, key) for v in value]
    if isinstance(value, str) and ("phone" in key.lower() or _PHONE.match(value)):
        return mask(value) if value.startswith("+") else "•" * 4
    return value


class EventFeed:
    """Numbered recent items; readers keep the last number they saw (thread-safe)."""

    def __init__(self, size: int = FEED_SIZE) -> None:
        self._lock = threading.Lock()
        self._items: deque[dict[str, Any]] = deque(maxlen=size)
        self._seq = 0

    def add(self, kind: str, body: dict[str, Any]) -> None:
        with self._lock:
            self._seq += 1
            self._items.append({"seq": self._seq, "kind": kind, **body})

    @property
    def last(self) -> int:
        with self._lock:
            return self._seq

    def since(self, seq: int) -> list[dict[str, Any]]:
        with self._lock:
            return [i for i in self._items if i["seq"] > seq]


class OpsLive:
    """The observer connection and what it learnt. ``start()`` connects in the background.

    Args:
        settings: The hub's broker settings (same credentials as the ingest).
        clock: Receive times for the view.
        link_factory: Builds the link (default :meth:`MqttLink.observer`).
    """

    def __init__(self, settings: MqttSection, *, clock: Clock | None = None,
                 link_factory: Callable[..., MqttLink] | None = None) -> None:
        self.clock = clock or SYSTEM_CLOCK
        factory = link_factory or MqttLink.observer
        self.link = factory(settings, client_id=f"hub-ops-{uuid.uuid4().hex[:10]}")
        self.view = VenueView()
        self.feed = EventFeed()
        self.waiter = ResultWaiter()
        self._lock = threading.Lock()
        for kind in ("status", "telemetry", "event/#", "cmd_result"):
            self.link.subscribe(site_filter(kind=kind), self._on_message, qos=1)

    def start(self) -> None:
        self.link.start()

    def stop(self) -> None:
        self.link.stop(timeout=1.0)

    def wait_ready(self, timeout: float) -> bool:
        """Connected and subscribed (so a command's answer cannot be missed)."""
        return self.link.wait_subscribed(timeout)

    @property
    def ready(self) -> bool:
        return self.link.connected

    def publish(self, topic: str, payload: bytes) -> None:
        self.link.publish(topic, payload, qos=1)

    def targets(self) -> list[Target]:
        with self._lock:
            return [Target(d.site, d.role, d.device, d.state) for d in self.view.devices.values()]

    def snapshot(self) -> list[dict[str, Any]]:
        """Device rows of the live view (state, telemetry, counters)."""
        with self._lock:
            return list(self.view.snapshot(self.clock.now())["devices"])

    def _on_message(self, msg: InboundMessage) -> None:
        """On paho's thread: fold and note, never block."""
        try:
            parsed = parse_topic(msg.topic)
        except PayloadError:
            return
        if parsed.kind == "cmd_result":
            self.waiter.deliver(msg.payload)
            return
        now = self.clock.now()
        with self._lock:
            self.view.apply(msg.topic, msg.payload, now)
        ref = parsed.ref
        key = f"{ref.site}/{ref.role}/{ref.device}"
        try:
            if parsed.kind == "event":
                ev = Event.decode(msg.payload)
                self.feed.add("event", {"id": ev.id, "ts": ev.ts, "device": key,
                                        "type": ev.type, "data": scrub(ev.data)})
            elif parsed.kind == "status" and msg.payload:
                st = Status.decode(msg.payload)
                self.feed.add("status", {"ts": rfc3339(now), "device": key, "state": st.state,
                                         "version": st.version})
        except PayloadError:
            log.debug("malformed %s on %s", parsed.kind, msg.topic)
