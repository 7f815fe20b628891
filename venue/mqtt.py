"""The MQTT link: the only module in venue that imports paho.

One :class:`MqttLink` per process connects a device to the broker with its own client id and
credentials and keeps the contract of DESIGN.md: a retained ``status`` (``online`` published again
on every connect, ``offline`` as the Last Will and on a clean stop), events through a durable
:class:`~venue.outbox.Outbox`, telemetry at QoS 0, commands on ``cmd/+`` answered on
``cmd_result``, and any extra subscriptions (``$share/...`` too).

Threads: paho's network thread runs the callbacks, which only record and hand off; a *sender*
thread moves outbox items to paho in order and batches PUBACKs back into outbox deletes; a
*command* thread runs command handlers so a slow handler never stalls the network loop.
``wait_for_publish`` is never called from a callback.

Delivery of events is at least once and in order: paho keeps unacknowledged QoS 1 messages and
resends them after a reconnect; the outbox covers what paho forgets when the process dies (the
next process sends everything still in it, oldest first).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

import venue
from venue.clock import SYSTEM_CLOCK, Clock
from venue.config import MqttSection
from venue.errors import ConfigError, PayloadError
from venue.messages import Command, CommandResult, Event, Status, dump_json, rfc3339
from venue.mqtt_workers import (
    Acker,
    CommandDispatcher,
    CommandHandler,
    InboundMessage,
    OutboxSender,
    topic_matches,
)
from venue.outbox import Outbox, OutboxItem
from venue.topics import DeviceRef

__all__ = ["InboundMessage", "MqttLink", "parse_url"]

log = logging.getLogger(__name__)


def parse_url(url: str) -> tuple[str, int, bool]:
    """``mqtt://host:port`` or ``mqtts://host:port`` to ``(host, port, tls)``.

    Raises:
        ConfigError: naming ``mqtt.url`` and what was expected.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ConfigError(f"mqtt.url: expected mqtt://host:port or mqtts://host:port, got {url!r}")
    tls = parts.scheme == "mqtts"
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError:
        raise ConfigError(f"mqtt.url: bad port in {url!r}") from None
    return parts.hostname, port, tls


class MqttLink:
    """A device's connection to the broker. See the module docstring for threads and delivery.

    Args:
        ref: The device's place in the topic tree.
        settings: Broker URL, credentials, TLS files, keepalive.
        outbox: Durable queue for events; ``None`` means an in-memory one (not durable: events
            queued while offline are lost if the process dies).
        version: Software version reported in ``status``.
        clock: Time for event timestamps and ``started_at``; waits always use real time.
        client_factory: Builds the paho client (same keywords as ``paho.mqtt.client.Client``).
        status_extra: Extra fields for the ``online`` status, called on every connect.
        manual_ack: Inbound QoS 1 messages are acked only by :meth:`InboundMessage.ack`.
        clean_start: Start a new session; the default keeps the broker-side session so commands
            sent while the device was away are delivered.
        client_id: Default ``{role}-{site}-{device}``; must be unique per connection.
        max_inflight: QoS 1 messages on the wire without a PUBACK yet.
        max_pending: Outbox items handed to paho and not yet acked (bounds paho's memory).
        reconnect_delay: ``(min, max)`` seconds of paho's exponential reconnect backoff.
        observer: A tool, not a device (see :meth:`observer`): no status, no Last Will, no
            command subscription.
    """

    def __init__(
        self,
        ref: DeviceRef,
        settings: MqttSection,
        *,
        outbox: Outbox | None = None,
        version: str = venue.__version__,
        clock: Clock | None = None,
        client_factory: Callable[..., Any] | None = None,
        status_extra: Callable[[], dict[str, Any]] | None = None,
        manual_ack: bool = False,
        clean_start: bool = False,
        client_id: str | None = None,
        max_inflight: int = 100,
        max_pending: int = 1000,
        reconnect_delay: tuple[float, float] = (1.0, 30.0),
        observer: bool = False,
    ) -> None:
        self.ref = ref
        self.settings = settings
        self.clock = clock or SYSTEM_CLOCK
        self.version = version
        self.client_id = client_id or f"{ref.role}-{ref.site}-{ref.device}"
        self.manual_ack = manual_ack
        self.is_observer = observer
        self._own_outbox = outbox is None
        self.outbox = outbox or Outbox(":memory:", max_items=settings.outbox_max)
        self._status_extra = status_extra
        self._started_at = rfc3339(self.clock.now())
        host, port, tls = parse_url(settings.url)
        self._host, self._port = host, port

        factory = client_factory or paho.Client
        self._client = factory(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=clean_start,
            protocol=paho.MQTTv311,
        )
        if settings.username:
            self._client.username_pw_set(settings.username, settings.resolved_password())
        if tls:
            self._client.tls_set(
                ca_certs=settings.ca_file, certfile=settings.cert_file, keyfile=settings.key_file
            )
        if not observer:
            self._client.will_set(ref.status(), self._status("offline"), qos=1, retain=True)
        self._client.max_inflight_messages_set(max_inflight)
        self._client.max_queued_messages_set(0)
        self._client.reconnect_delay_set(*reconnect_delay)  # type: ignore[arg-type]
        if manual_ack:
            self._client.manual_ack_set(True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_publish = self._on_publish
        self._client.on_subscribe = self._on_subscribe

        self._lock = threading.Lock()
        self._connected = threading.Event()
        # Set once paho has resent what it had in flight before a reconnect (see _on_connect).
        self._sendable = threading.Event()
        self._status_mid: int | None = None
        self._subscribed = threading.Event()
        self._subs_live = False
        """This connection's SUBSCRIBE snapshot is sent: later subscriptions go out themselves.
        Guarded by ``self._lock``; ``_connected`` is set later, after the status publish, and a
        subscribe() in between would otherwise be in neither."""
        self._pending_subs: set[int] = set()
        self._subs: dict[str, tuple[Callable[[InboundMessage], None], int]] = {}
        self._sender = OutboxSender(
            self.outbox, self._hand_over, self._sendable.is_set, max_pending
        )
        self._commands = CommandDispatcher(self._reply, self._count)
        self._commands.handlers["ping"] = self._ping
        self._on_connect_hooks: list[Callable[[], None]] = []
        self._stats: dict[str, int] = dict.fromkeys(
            [
                "malformed",
                "handler_errors",
                "commands",
                "connects",
                "reconnects",
                "disconnects",
                "telemetry_sent",
                "dropped_telemetry",
                "dropped_raw",
            ],
            0,
        )

    # -- lifecycle ------------------------------------------------------------------------------

    @classmethod
    def observer(
        cls, settings: MqttSection, *, client_id: str | None = None, **kwargs: Any
    ) -> MqttLink:
        """A link for operator tools (``venue monitor``, ``venue cmd``), not for a device.

        It publishes no status and has no Last Will (a tool coming and going is not a device
        going offline), does not subscribe to commands, and uses a clean session under a random
        client id, so two operators can watch at once and leave nothing queued at the broker.
        """
        kwargs.setdefault("clean_start", True)
        return cls(
            DeviceRef("observer", "hub", "observer"),
            settings,
            client_id=client_id or f"observer-{uuid.uuid4().hex[:12]}",
            observer=True,
            **kwargs,
        )

    def start(self) -> None:
        """Connect in the background and keep reconnecting; returns at once."""
        self._client.connect_async(self._host, self._port, keepalive=self.settings.keepalive)
        self._client.loop_start()
        self._sender.start(f"mqtt-sender-{self.client_id}")
        self._commands.start(f"mqtt-commands-{self.client_id}")

    def stop(self, timeout: float = 5.0) -> None:
        """Say goodbye: flush what can be sent within ``timeout``, publish ``offline``, disconnect.

        Events not acknowledged by then stay in the outbox for the next start.
        """
        if self.connected:
            self.wait_drained(timeout / 2)
        self._sender.stop(timeout / 4)
        self._commands.stop(timeout / 4)
        if self.connected and not self.is_observer:
            info = self._client.publish(
                self.ref.status(), self._status("offline"), qos=1, retain=True
            )
            try:
                info.wait_for_publish(timeout / 4)
            except (RuntimeError, ValueError):
                pass
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()
        if self._own_outbox:
            self.outbox.close()

    def __enter__(self) -> MqttLink:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def connected(self) -> bool:
        """True between CONNACK and the next disconnect."""
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds for a connection; True when connected."""
        return self._connected.wait(timeout)

    def wait_drained(self, timeout: float) -> bool:
        """Block until the outbox is empty, i.e. every event was PUBACKed; False on timeout.

        Items stay in the outbox until their PUBACK, so an empty outbox also means nothing is in
        flight.
        """
        deadline = time.monotonic() + timeout  # real waiting, even with a fake clock
        while self.outbox.depth() > 0:
            if time.monotonic() >= deadline:
                return False
            self._sender.wake()
            time.sleep(0.01)
        return True

    def when_connected(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` after every connect (e.g. to publish Home Assistant discovery).

        It runs on paho's thread: publish and return, do not block.
        """
        self._on_connect_hooks.append(hook)

    # -- publishing -----------------------------------------------------------------------------

    def publish_event(
        self, type_: str, data: dict[str, Any], *, when: datetime | None = None
    ) -> Event:
        """Record an event durably and queue it for delivery at QoS 1; returns the event.

        The event is in the outbox when this returns, whether or not the broker is reachable.
        """
        event = Event.new(
            self.ref.site, self.ref.device, type_, data, when=when or self.clock.now()
        )
        self.outbox.put(self.ref.event(type_), event.encode(), qos=1, kind="event")
        self._sender.wake()
        return event

    def publish_telemetry(self, data: dict[str, Any]) -> None:
        """Send metrics at QoS 0 now, or drop them (counted) when offline.

        Not durable on purpose: metrics from an hour ago are noise, and they would crowd out events.
        """
        self._publish_now(self.ref.telemetry(), dump_json(data), 0, False, "telemetry")

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        durable: bool = False,
    ) -> None:
        """Publish raw bytes (Home Assistant discovery, hub hints).

        ``durable=True`` goes through the outbox like an event. Otherwise it is sent if connected
        and dropped (counted as ``dropped_raw``) if not; republish from :meth:`when_connected`.
        """
        if durable:
            self.outbox.put(topic, payload, qos=qos, retain=retain, kind="event")
            self._sender.wake()
        else:
            self._publish_now(topic, payload, qos, retain, "raw")

    def _publish_now(self, topic: str, payload: bytes, qos: int, retain: bool, what: str) -> None:
        if not self.connected:
            self._count(f"dropped_{what}")
            return
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            self._count(f"dropped_{what}")
        elif what == "telemetry":
            self._count("telemetry_sent")

    def _status(self, state: str) -> bytes:
        extra: dict[str, Any] = {"device": self.ref.device, "site": self.ref.site}
        if state == "online" and self._status_extra is not None:
            try:
                extra.update(self._status_extra())
            except Exception:
                log.exception("status_extra failed; publishing status without it")
        return Status(
            state=state,
            version=self.version,
            started_at=self._started_at,
            role=self.ref.role,
            extra=extra,
        ).encode()

    # -- subscriptions and commands ---------------------------------------------------------------

    def on_command(self, name: str, handler: CommandHandler) -> None:
        """Handle ``.../cmd/{name}``; the handler runs on the link's command thread.

        Its return value (a :class:`CommandResult`, a dict for ``data``, or ``None``) or its
        exception becomes the ``cmd_result`` carrying the command's id.
        """
        self.ref.cmd(name)  # validates the name
        self._commands.handlers[name] = handler

    def subscribe(
        self, topic_filter: str, handler: Callable[[InboundMessage], None], *, qos: int = 1
    ) -> None:
        """Deliver messages matching ``topic_filter`` (``$share/group/...`` works) to ``handler``.

        The handler runs on paho's network thread: keep it short or hand off to a queue. It may
        raise :class:`PayloadError` for a malformed payload (counted as ``malformed``); any other
        exception is counted as ``handler_errors`` and logged. The loop keeps running either way.
        With ``manual_ack`` a message whose handler raised is not acked, so the broker offers it
        again after the next reconnect; malformed ones are acked (retrying cannot fix them).
        """
        with self._lock:  # same lock as on_connect's snapshot: never subscribed zero or two times
            self._subs[topic_filter] = (handler, qos)
            if self._subs_live:
                self._track_subscribe(self._client.subscribe(topic_filter, qos))

    def wait_subscribed(self, timeout: float) -> bool:
        """Block until connected and every subscription is SUBACKed; True when so."""
        deadline = time.monotonic() + timeout  # real waiting, even with a fake clock
        if not self._connected.wait(timeout):
            return False
        return self._subscribed.wait(max(0.0, deadline - time.monotonic()))

    def _track_subscribe(self, rc_mid: tuple[Any, int | None]) -> None:
        """Note a SUBSCRIBE awaiting its SUBACK; called with ``self._lock`` held, so that
        ``_on_subscribe`` (which takes the lock) cannot see the SUBACK first."""
        rc, mid = rc_mid
        if rc == paho.MQTT_ERR_SUCCESS and mid is not None:
            self._pending_subs.add(mid)
            self._subscribed.clear()

    def note_malformed(self, topic: str, reason: str, detail: str = "") -> None:
        """Count and log a malformed inbound payload (handlers that parse may call this)."""
        self._count("malformed")
        log.warning("malformed payload on %s (%s): %s", topic, reason, detail)

    def stats(self) -> dict[str, int | float]:
        """Counters for telemetry: published, acked, malformed, handler_errors, outbox_depth, ..."""
        with self._lock:
            out: dict[str, int | float] = dict(self._stats)
        out["published"] = self._sender.published
        out["acked"] = self._sender.acked_count
        out["pending"] = self._sender.pending
        ob = self.outbox.stats()
        out["outbox_depth"] = ob["depth"]
        out["shed_telemetry"] = ob["shed_telemetry"]
        out["shed_events"] = ob["shed_events"]
        out["connected"] = int(self.connected)
        return out

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._stats[name] = self._stats.get(name, 0) + n

    # -- paho callbacks (network thread: record and hand off, never block) ------------------------

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("broker %s:%d refused the connection: %s", self._host, self._port, reason)
            return
        # paho calls on_connect *before* it resends the QoS 1 messages it still holds, so the
        # sender must not hand it newer events yet or they would overtake the resent ones. The
        # PUBACK of this status message is read after the resend is done: it opens the gate.
        self._sendable.clear()
        with self._lock:
            self._stats["connects"] += 1
            if self._stats["connects"] > 1:
                self._stats["reconnects"] += 1
            # Subscribe before announcing `online`: the broker handles one connection's packets
            # in order, so whoever sees `online` can command the device at once.
            subs = [] if self.is_observer else [(self.ref.cmd("+"), 1)]
            subs += [(f, q) for f, (_, q) in self._subs.items()]
            self._pending_subs.clear()
            if subs:
                self._track_subscribe(client.subscribe(subs))
            else:
                self._subscribed.set()
            self._subs_live = True
        if self.is_observer:
            self._sendable.set()  # a tool has no status to publish and no event order to keep
        else:
            info = client.publish(self.ref.status(), self._status("online"), qos=1, retain=True)
            self._status_mid = info.mid
        self._connected.set()
        log.info("connected to %s:%d as %s", self._host, self._port, self.client_id)
        for hook in self._on_connect_hooks:
            try:
                hook()
            except Exception:
                self._count("handler_errors")
                log.exception("on-connect hook failed")

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if self._connected.is_set():
            self._count("disconnects")
            log.warning("disconnected from %s:%d: %s", self._host, self._port, reason)
        # No lock: paho may call this from inside a call made under it. A subscribe() that still
        # sends now is harmless: it is in ``_subs`` and the next connect sends it again.
        self._subs_live = False
        self._connected.clear()
        self._sendable.clear()
        self._subscribed.clear()

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, codes: Any, props: Any) -> None:
        for code in codes:
            if getattr(code, "is_failure", False):
                log.error("broker refused a subscription (mid %d): %s; check the ACL", mid, code)
        with self._lock:
            self._pending_subs.discard(mid)
            if not self._pending_subs:
                self._subscribed.set()

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        if mid == self._status_mid and self._connected.is_set():
            self._sendable.set()
        self._sender.acked(mid)

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        acker: Acker | None = None
        if self.manual_ack and msg.qos > 0:
            mid, qos = msg.mid, msg.qos
            acker = Acker(lambda: client.ack(mid, qos))
        topic: str = msg.topic
        payload = bytes(msg.payload)
        cmd_prefix = self.ref.cmd("+")[:-1]
        if topic.startswith(cmd_prefix):
            self._commands.submit(topic[len(cmd_prefix) :], payload, acker)
            return
        with self._lock:
            handlers = [h for f, (h, _) in self._subs.items() if topic_matches(f, topic)]
        inbound = InboundMessage(topic, payload, msg.qos, bool(msg.retain), acker)
        for handler in handlers:
            try:
                handler(inbound)
            except PayloadError as exc:
                self.note_malformed(topic, exc.reason, str(exc))
                if acker:
                    acker()
            except Exception:
                self._count("handler_errors")
                log.exception("handler for %s failed", topic)
        if not handlers:
            log.debug("no handler for %s", topic)
            if acker:
                acker()  # nobody else will

    # -- called by the workers ---------------------------------------------------------------------

    def _hand_over(self, item: OutboxItem) -> int | None:
        info = self._client.publish(item.topic, item.payload, qos=item.qos, retain=item.retain)
        kept = info.rc == paho.MQTT_ERR_NO_CONN and item.qos > 0  # paho resends these itself
        if info.rc != paho.MQTT_ERR_SUCCESS and not kept:
            # paho did not take it (connection just dropped for QoS 0, message id still in use):
            # the sender logs this, waits and hands the same item over again.
            raise RuntimeError(f"paho refused seq {item.seq}: {paho.error_string(info.rc)}")
        return None if item.qos == 0 else int(info.mid)

    def _reply(self, result: CommandResult) -> None:
        self._client.publish(self.ref.cmd_result(), result.encode(), qos=1)

    def _ping(self, cmd: Command) -> dict[str, Any]:
        return {"pong": rfc3339(self.clock.now()), "version": self.version}
