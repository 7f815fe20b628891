"""MQTT ingest: device events stored once by id, offline admissions applied once by nonce, device
status tracked; the core (:func:`ingest_batch`) is a function over ``(topic, payload)`` pairs so
it is tested without a broker, and :class:`MqttIngest` wires it to the shared MQTT link.

Throughput comes from batches: one transaction stores a few hundred events (one query finds the
ids already stored, one bulk insert adds the rest), and each message is acknowledged to the broker
only after that commit, so a crash makes the broker deliver again instead of losing events.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from hub.db import Database
from hub.loyalty.beacons import InstallResolver, credit_presence, parse_presence, resolver_for
from hub.models import Device, DeviceEvent
from hub.offline import OfflineScan, apply_offline_admission, apply_offline_annulment
from venue.clock import SYSTEM_CLOCK, Clock
from venue.errors import PayloadError
from venue.messages import Event, Status, parse_time
from venue.topics import parse_topic, share, site_filter

log = logging.getLogger(__name__)

EVENT_FILTER = site_filter(kind="event/#")
"""``venue/v1/+/+/+/event/#``: every device event."""


def event_filter(share_group: str = "") -> str:
    """The events subscription: plain for a venue's one hub, ``$share/{group}/...`` for replicas.

    A plain subscription lives in the hub's persistent session, so the broker keeps queueing events
    for it across a broker restart. Mosquitto 2.0.11 does not restore shared subscriptions from
    persistence: after a restart nothing is queued for them until the hub subscribes again, and
    events the devices published meanwhile are acknowledged and lost (found by the broker-restart
    drill). Replicas of a chain need ``$share`` to split the load, and must run a broker that
    keeps shared subscriptions (or resubscribe before devices reconnect).
    """
    return share(share_group, EVENT_FILTER) if share_group else EVENT_FILTER
STATUS_FILTER = site_filter(kind="status")
"""Not shared: every hub replica tracks every device, and retained status reaches only plain
subscriptions."""


@dataclass
class IngestResult:
    stored: int = 0
    duplicates: int = 0
    malformed: int = 0
    statuses: int = 0
    applied: int = 0
    annulled: int = 0
    failed: int = 0
    visits: int = 0
    """Beacon events that credited a visit."""
    alerts: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Parsed:
    event: Event
    role: str
    ts: datetime


def _scan_of(ev: Event) -> OfflineScan | None:
    """The offline admission in a ``gate.scan``; ``None`` if it is not one."""
    d = ev.data
    if d.get("offline") is not True or d.get("result") != "admit":
        return None
    nonce, direction = d.get("nonce"), d.get("direction", "in")
    ticket = d.get("ticket")
    ref = ticket.get("ref") if isinstance(ticket, dict) else None
    if not isinstance(nonce, str) or not 0 < len(nonce) <= 64 or direction not in ("in", "out"):
        raise PayloadError("gate.scan: bad nonce or direction", "bad_field")
    if ref is not None and (not isinstance(ref, str) or len(ref) > 80):
        raise PayloadError("gate.scan: bad ticket ref", "bad_field")
    scanned = parse_time(d.get("scanned_at", ev.ts), "scanned_at")
    return OfflineScan(nonce, ref, ev.device, direction, scanned, ev.id)


def _insert(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    """Insert the events not stored yet; returns the ids this transaction inserted.

    Only those are applied: a hub replica that received the same event at the same moment (a
    shared subscription redelivering after a replica died) waits here on the other's row and
    inserts nothing, so it does not apply the event a second time.
    """
    if session.get_bind().dialect.name == "postgresql":
        stmt: Any = pg_insert(DeviceEvent).on_conflict_do_nothing(index_elements=["id"])
    else:
        stmt = sqlite_insert(DeviceEvent).on_conflict_do_nothing(index_elements=["id"])
    return set(session.scalars(stmt.returning(DeviceEvent.id), rows))


def _touch(session: Session, site: str, role: str, device: str, *, seen: datetime | None = None,
           status: Status | None = None, now: datetime) -> None:
    key = f"{site}/{role}/{device}"
    row = session.get(Device, key)
    if row is None:
        row = Device(key=key, site=site, role=role, device=device, state="unknown")
        session.add(row)
    if status is not None:
        row.state = status.state
        row.version = status.version[:64] or None
        row.started_at = status.started_at[:40] or None
        row.status_at = now
    if seen is not None and (row.last_seen is None or seen > row.last_seen):
        row.last_seen = seen


def ingest_batch(
    db: Database, messages: Sequence[tuple[str, bytes]], *, clock: Clock
) -> IngestResult:
    """Store a batch of MQTT messages in one transaction; alerts are for the caller to publish.

    Malformed messages are counted and dropped (retrying cannot fix them); a message whose event
    id was stored before is a duplicate (the broker redelivered, or a device resent).
    """
    res = IngestResult()
    events: dict[str, _Parsed] = {}
    statuses: list[tuple[str, str, str, Status]] = []
    for topic, payload in messages:
        try:
            parsed = parse_topic(topic)
            if parsed.kind == "status":
                statuses.append((parsed.ref.site, parsed.ref.role, parsed.ref.device,
                                 Status.decode(payload)))
                continue
            if parsed.kind != "event":
                raise PayloadError(f"not an event topic: {topic}", "bad_topic")
            ev = Event.decode(payload)
            if (ev.site, ev.device, ev.type) != (parsed.ref.site, parsed.ref.device,
                                                 parsed.name):
                raise PayloadError("envelope does not match its topic", "bad_envelope")
        except PayloadError as exc:
            res.malformed += 1
            log.debug("dropped malformed message on %s: %s", topic, exc)
            continue
        if ev.id in events:
            res.duplicates += 1
            continue
        events[ev.id] = _Parsed(ev, parsed.ref.role, ev.time)
    now = clock.now()
    with db.write() as s:
        ids = list(events)
        known: set[str] = set()
        for start in range(0, len(ids), 900):
            known.update(s.scalars(select(DeviceEvent.id).where(
                DeviceEvent.id.in_(ids[start : start + 900]))))
        fresh = [p for i, p in events.items() if i not in known]
        if fresh:
            inserted = _insert(s, [
                {"id": p.event.id, "site": p.event.site, "role": p.role, "device": p.event.device,
                 "type": p.event.type, "ts": p.ts, "received_at": now, "data": p.event.data}
                for p in fresh
            ])
            fresh = [p for p in fresh if p.event.id in inserted]
        res.duplicates += len(events) - len(fresh)
        res.stored = len(fresh)
        seen: dict[tuple[str, str, str], datetime] = {}
        for p in fresh:
            k = (p.event.site, p.role, p.event.device)
            seen[k] = max(seen.get(k, p.ts), p.ts)
            _apply_event(s, p.event, res, clock, resolver_for(db))
        for (site, role, device), ts in seen.items():
            _touch(s, site, role, device, seen=ts, now=now)
        for site, role, device, st in statuses:
            _touch(s, site, role, device, status=st, now=now)
            res.statuses += 1
    return res


def _apply_event(s: Session, ev: Event, res: IngestResult, clock: Clock,
                 resolver: InstallResolver) -> None:
    try:
        if ev.type == "gate.scan":
            scan = _scan_of(ev)
            if scan is None:
                return
            with s.begin_nested():
                alert = apply_offline_admission(s, scan, clock=clock)
            res.applied += 1
            if alert is not None:
                res.alerts.append(alert)
        elif ev.type in ("beacon.enter", "beacon.exit"):
            presence = parse_presence(ev.data)
            with s.begin_nested():
                answers = credit_presence(s, presence, device=ev.device, now=clock.now(),
                                          resolver=resolver)
            res.visits += sum(1 for a in answers if a["credited"])
        elif ev.type == "gate.passage":
            d = ev.data
            nonce = d.get("nonce")
            if d.get("annulled") is True and d.get("offline") is True and isinstance(nonce, str):
                with s.begin_nested():
                    if apply_offline_annulment(s, nonce[:64], clock=clock):
                        res.annulled += 1
    except PayloadError as exc:
        res.malformed += 1
        log.warning("event %s stored but not applied: %s", ev.id, exc)
    except IntegrityError:  # another hub replica applied the same nonce at the same moment
        log.info("event %s was applied by another hub", ev.id)


class MqttIngest:
    """Feeds the MQTT link's messages to :func:`ingest_batch` from one worker thread.

    Args:
        db: The hub's database.
        link: A started-or-not :class:`venue.mqtt.MqttLink` built with ``manual_ack=True``.
        clock: Receive times.
        batch_max: Most messages per transaction.
        share_group: Subscribe as ``$share/{group}`` (hub replicas); empty: a plain subscription.
        on_alert: Called with each alert after its commit (default: ``link.publish_event``).
    """

    def __init__(self, db: Database, link: Any, *, clock: Clock | None = None,
                 batch_max: int = 1000, share_group: str = "",
                 on_alert: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.db = db
        self.share_group = share_group
        self.link = link
        self.clock = clock or SYSTEM_CLOCK
        self.batch_max = batch_max
        self.on_alert = on_alert or (lambda a: link.publish_event("hub.alert", a))
        self.totals = IngestResult()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hub-ingest", daemon=True)
        self._idle = threading.Event()

    def start(self) -> None:
        self.link.subscribe(event_filter(self.share_group), self._queue.put, qos=1)
        self.link.subscribe(STATUS_FILTER, self._queue.put, qos=1)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                first = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            if first is None:
                break
            batch = [first]
            while len(batch) < self.batch_max:
                try:
                    msg = self._queue.get_nowait()
                except queue.Empty:
                    break
                if msg is None:
                    self._stop.set()
                    break
                batch.append(msg)
            self._process(batch)

    def _process(self, batch: list[Any]) -> None:
        res = self._store(batch)
        if res is None:
            return
        for m in batch:
            m.ack()
        t = self.totals
        t.stored += res.stored
        t.duplicates += res.duplicates
        t.malformed += res.malformed
        t.statuses += res.statuses
        t.applied += res.applied
        t.annulled += res.annulled
        t.failed += res.failed
        for alert in res.alerts:
            t.alerts.append(alert)
            try:
                self.on_alert(alert)
            except Exception:
                log.exception("could not publish alert %s", alert)

    def _store(self, batch: list[Any]) -> IngestResult | None:
        """Commit a batch; ``None`` only when stopping while the database is away.

        A database that is away is waited for (the batch stays unacknowledged). Anything else —
        another hub replica inserting the same new device at the same moment, or a message that
        trips a bug — must not stop the ingest: the batch is tried once more, then message by
        message, and a message that still fails is logged and counted as ``failed``.
        """
        delay = 0.1
        pairs = [(m.topic, m.payload) for m in batch]
        while True:
            try:
                return ingest_batch(self.db, pairs, clock=self.clock)
            except OperationalError:
                log.exception("ingest batch of %d failed; retrying", len(batch))
                if self._stop.wait(delay):
                    return None
                delay = min(delay * 2, 5.0)
            except Exception:
                log.warning("ingest batch of %d failed; trying again", len(batch), exc_info=True)
                break
        total = IngestResult()
        for pair in pairs:
            failures = 0
            while True:
                try:
                    one = ingest_batch(self.db, [pair], clock=self.clock)
                except OperationalError:
                    if self._stop.wait(delay):
                        return None
                    delay = min(delay * 2, 5.0)
                    continue
                except Exception:
                    failures += 1
                    if failures < 2:
                        continue
                    log.exception("dropping message on %s that cannot be stored", pair[0])
                    total.failed += 1
                    break
                total.stored += one.stored
                total.duplicates += one.duplicates
                total.malformed += one.malformed
                total.statuses += one.statuses
                total.applied += one.applied
                total.annulled += one.annulled
                total.alerts.extend(one.alerts)
                break
        return total
