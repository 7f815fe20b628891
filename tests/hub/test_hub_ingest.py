"""MQTT ingest: events stored once, offline admissions applied once, conflicts flagged.

The core is tested as a function over (topic, payload); the last tests go through a real
Mosquitto with the shared MQTT link, the way the hub runs.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from helpers_mqtt import Collector
from hubkit import wait_for

from hub import issuing
from hub.db import Database
from hub.ingest import MqttIngest, ingest_batch
from hub.models import Code, Conflict, Device, DeviceEvent, Redemption
from hub.redemption import RedemptionRequest, redeem_once
from hub.series import SeriesSpec, create_series
from venue.clock import FakeClock
from venue.config import MqttSection
from venue.messages import Event, Status, rfc3339
from venue.mqtt import MqttLink
from venue.reasons import Result
from venue.topics import DeviceRef

SITE = "s1"


def issue_one(db: Database, clock: FakeClock) -> str:
    with db.write() as s:
        series = create_series(s, SeriesSpec(name="Show"), now=clock.now())
        issuing.issue(s, series.id, count=2, now=clock.now())
        return f"{series.id}:0"


def scan_event(gate: str, ref: str, clock: FakeClock, *, nonce: str | None = None,
               offline: bool = True, result: str = "admit") -> Event:
    data = {"nonce": nonce or str(uuid.uuid4()), "result": result, "reason": "ok",
            "direction": "in", "offline": offline,
            "ticket": {"ref": ref, "series": int(ref.split(":")[0])}, "latency_ms": 1.0,
            "scanned_at": rfc3339(clock.now()), "first_used_at": None, "first_gate": None,
            "source": "camera"}
    return Event.new(SITE, gate, "gate.scan", data, when=clock.now())


def topic(ev: Event) -> str:
    return DeviceRef(ev.site, "gate", ev.device).event(ev.type)


def count(db: Database, model: Any) -> int:
    with db.read() as s:
        return int(s.query(model).count())


def gate_state(db: Database) -> str | None:
    with db.read() as s:
        dev = s.get(Device, "s1/gate/g1")
        return None if dev is None else dev.state


def test_batch_stores_each_event_once_and_drops_malformed(db: Database, clock: FakeClock) -> None:
    evs = [Event.new(SITE, "k1", "kiosk.checkin", {"customer": i}, when=clock.now())
           for i in range(50)]
    msgs = [(DeviceRef(SITE, "kiosk", "k1").event("kiosk.checkin"), e.encode()) for e in evs]
    bad = [
        ("venue/v1/s1/kiosk/k1/event/kiosk.checkin", b"{not json"),
        ("venue/v1/s1/kiosk/k1/event/kiosk.checkin", b"[]"),
        ("venue/v1/s1/kiosk/k2/event/kiosk.checkin", evs[0].encode()),  # topic mismatch
        ("elsewhere/x", evs[0].encode()),
    ]
    res = ingest_batch(db, msgs + msgs[:5] + bad, clock=clock)
    assert (res.stored, res.duplicates, res.malformed) == (50, 5, 4)
    res = ingest_batch(db, msgs[10:20], clock=clock)
    assert (res.stored, res.duplicates) == (0, 10)
    assert count(db, DeviceEvent) == 50
    with db.read() as s:
        dev = s.get(Device, "s1/kiosk/k1")
        assert dev is not None and dev.last_seen == clock.now()


def test_status_topics_track_devices(db: Database, clock: FakeClock) -> None:
    ref = DeviceRef(SITE, "gate", "g1")
    ingest_batch(db, [(ref.status(), Status("online", "1.2", "2026-01-01T00:00:00Z").encode())],
                 clock=clock)
    clock.advance(30)
    ingest_batch(db, [(ref.status(), Status("offline", "1.2").encode())], clock=clock)
    with db.read() as s:
        dev = s.get(Device, "s1/gate/g1")
        assert dev is not None
        assert (dev.state, dev.version, dev.status_at) == ("offline", "1.2", clock.now())


def test_offline_admission_counts_once_and_conflicts_are_flagged(
    any_db: Database, clock: FakeClock
) -> None:
    ref = issue_one(any_db, clock)
    ev = scan_event("g1", ref, clock)
    for _ in range(3):
        ingest_batch(any_db, [(topic(ev), ev.encode())], clock=clock)
    same_nonce_new_id = Event.new(SITE, "g1", "gate.scan", ev.data, when=clock.now())
    res = ingest_batch(any_db, [(topic(same_nonce_new_id), same_nonce_new_id.encode())],
                       clock=clock)
    assert res.alerts == []
    with any_db.read() as s:
        code = s.query(Code).filter_by(ref=ref).one()
        assert (code.entries_used, code.first_gate) == (1, "g1")
        assert s.query(Redemption).count() == 1
    # The same ticket admitted offline at a second gate: stored, not counted, flagged.
    clock.advance(60)
    other = scan_event("g2", ref, clock)
    res = ingest_batch(any_db, [(topic(other), other.encode())], clock=clock)
    assert res.alerts == [{"kind": "offline_conflict", "ref": ref, "gates": ["g1", "g2"],
                           "nonce": other.data["nonce"],
                           "first_used_at": ev.data["scanned_at"]}]
    with any_db.read() as s:
        assert s.query(Code).filter_by(ref=ref).one().entries_used == 1
        (conflict,) = s.query(Conflict).all()
        assert (conflict.gate, conflict.first_gate) == ("g2", "g1")
    # Online, the ticket is used (first use at g1, as uploaded).
    a = redeem_once(any_db, RedemptionRequest(code="1-0-3", gate="g3", direction="in",
                                              nonce="on1", allow_serial=True), clock=clock)
    assert (a.result, a.first_gate) == (Result.REJECT, "g1")


def test_offline_annulment_gives_the_entry_back(db: Database, clock: FakeClock) -> None:
    ref = issue_one(db, clock)
    ev = scan_event("g1", ref, clock)
    passage = Event.new(SITE, "g1", "gate.passage",
                        {"nonce": ev.data["nonce"], "ref": ref, "direction": "in",
                         "passed": False, "annulled": True, "offline": True}, when=clock.now())
    online_scan = scan_event("g1", ref, clock, offline=False)  # just stored
    res = ingest_batch(db, [(topic(e), e.encode()) for e in (ev, passage, online_scan)],
                       clock=clock)
    assert (res.stored, res.applied, res.annulled) == (3, 1, 1)
    with db.read() as s:
        code = s.query(Code).filter_by(ref=ref).one()
        assert (code.entries_used, code.first_gate, code.inside) == (0, None, False)


def test_same_offline_event_three_times_over_mqtt_changes_ledger_once(
    any_db: Database, clock: FakeClock, broker: Any
) -> None:
    ref = issue_one(any_db, clock)
    settings = MqttSection(url=broker.url)
    link = MqttLink(DeviceRef(SITE, "hub", "hub1"), settings, manual_ack=True, clock=clock)
    ingest = MqttIngest(any_db, link, clock=clock)
    ingest.start()
    link.start()
    watcher = Collector(broker.port, "venue/v1/+/hub/+/event/#")
    gate = Collector(broker.port, "venue/v1/s1/gate/g1/cmd/#")
    try:
        assert link.wait_subscribed(10)
        watcher.wait_subscribed()
        gate.wait_subscribed()
        gate.publish(DeviceRef(SITE, "gate", "g1").status(), Status("online", "1").encode(),
                     retain=True)
        ev = scan_event("g1", ref, clock)
        for _ in range(3):
            gate.publish(topic(ev), ev.encode())
        wait_for(lambda: ingest.totals.stored + ingest.totals.duplicates >= 3, 10,
                 "three deliveries ingested")
        assert (ingest.totals.stored, ingest.totals.duplicates) == (1, 2)
        with any_db.read() as s:
            assert s.query(Redemption).count() == 1
            assert s.query(Code).filter_by(ref=ref).one().entries_used == 1
        wait_for(lambda: gate_state(any_db) == "online", 10, "gate status stored")
        # A second gate admitted the same ticket offline: a conflict, stored and published.
        clock.advance(5)
        ev2 = scan_event("g2", ref, clock)
        gate.publish(topic(ev2), ev2.encode())
        alerts = wait_for(lambda: watcher.on("venue/v1/s1/hub/hub1/event/hub.alert"), 10,
                          "hub.alert published")
        body = json.loads(alerts[0].payload)
        assert body["type"] == "hub.alert"
        assert body["data"]["kind"] == "offline_conflict" and body["data"]["ref"] == ref
        assert body["data"]["gates"] == ["g1", "g2"]
        assert count(any_db, Conflict) == 1
    finally:
        gate.close()
        watcher.close()
        ingest.stop()
        link.stop()


def test_unacked_batch_is_redelivered_after_a_hub_restart(
    db: Database, clock: FakeClock, broker: Any
) -> None:
    """The hub acks after commit: messages sent while it was down arrive when it comes back."""
    settings = MqttSection(url=broker.url)
    ref = DeviceRef(SITE, "hub", "hub1")
    first = MqttLink(ref, settings, manual_ack=True, clock=clock)
    ingest = MqttIngest(db, first, clock=clock)
    ingest.start()
    first.start()
    assert first.wait_subscribed(10)
    ingest.stop()
    first.stop()  # persistent session: the broker keeps queueing QoS 1 for it
    gate = Collector(broker.port, "venue/v1/s1/gate/g1/cmd/#")
    try:
        gate.wait_subscribed()
        evs = [scan_event("g1", "1:0", clock, offline=False) for _ in range(20)]
        for e in evs:
            gate.publish(topic(e), e.encode())
        second = MqttLink(ref, settings, manual_ack=True, clock=clock)
        again = MqttIngest(db, second, clock=clock)
        again.start()
        second.start()
        try:
            wait_for(lambda: again.totals.stored >= 20, 10, "queued events after restart")
        finally:
            again.stop()
            second.stop()
    finally:
        gate.close()
    assert count(db, DeviceEvent) == 20


def test_revocation_hint_and_device_list_over_mqtt(
    db: Database, clock: FakeClock, broker: Any
) -> None:
    """Revoking a code publishes ``hub.replica`` so gates refresh; devices are listed."""
    from fastapi.testclient import TestClient
    from hubkit import ADMIN_H

    from hub.api.app import create_app

    ref = issue_one(db, clock)
    link = MqttLink(DeviceRef(SITE, "hub", "hub1"), MqttSection(url=broker.url),
                    manual_ack=True, clock=clock)
    ingest = MqttIngest(db, link, clock=clock)
    ingest.start()
    link.start()
    watcher = Collector(broker.port, "venue/v1/s1/hub/hub1/event/hub.replica")
    try:
        assert link.wait_subscribed(10)
        watcher.wait_subscribed()
        with TestClient(create_app(db, clock=clock, publish=link.publish_event)) as client:
            assert client.post(f"/api/v1/codes/{ref}/revoke", headers=ADMIN_H).status_code == 200
            hints = wait_for(lambda: watcher.all(), 10, "hub.replica hint")
            assert json.loads(hints[0].payload)["data"] == {"reason": "revoke", "ref": ref}
            devices = wait_for(lambda: client.get("/api/v1/devices", headers=ADMIN_H).json(),
                               10, "the hub's own status ingested")
            assert {(d["role"], d["device"], d["state"]) for d in devices} == {
                ("hub", "hub1", "online")}
    finally:
        watcher.close()
        ingest.stop()
        link.stop()


def test_offline_admission_over_a_late_online_reject_is_flagged_once(
    db: Database, clock: FakeClock
) -> None:
    """The hub answered *reject* too late; the gate had given up and admitted offline under the
    same nonce. The ledger keeps the hub's answer; operators are told, once."""
    ref = issue_one(db, clock)
    first = redeem_once(db, RedemptionRequest(code="1-0-3", gate="g1", direction="in",
                                              nonce="n-first", allow_serial=True), clock=clock)
    assert first.result == Result.ADMIT
    clock.advance(30)
    late = redeem_once(db, RedemptionRequest(code="1-0-3", gate="g2", direction="in",
                                             nonce="n-late", allow_serial=True), clock=clock)
    assert late.result == Result.REJECT
    upload = scan_event("g2", ref, clock, nonce="n-late")
    res = ingest_batch(db, [(topic(upload), upload.encode())], clock=clock)
    assert [a["kind"] for a in res.alerts] == ["offline_over_reject"]
    assert res.alerts[0]["gates"] == ["g1", "g2"]
    again = Event.new(SITE, "g2", "gate.scan", upload.data, when=clock.now())
    assert ingest_batch(db, [(topic(again), again.encode())], clock=clock).alerts == []
    with db.read() as s:
        assert s.query(Redemption).count() == 2
        assert s.query(Code).filter_by(ref=ref).one().entries_used == 1
        assert [c.nonce for c in s.query(Conflict).all()] == ["n-late"]
