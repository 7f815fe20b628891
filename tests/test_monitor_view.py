"""The operator's view folds status, telemetry and events; malformed messages are counted."""

from __future__ import annotations

from datetime import UTC, datetime

from venue.messages import Event, Status
from venue.monitor import REJECT_BURST, VenueView
from venue.topics import DeviceRef

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
GATE = DeviceRef("s1", "gate", "g1")
HUB = DeviceRef("s1", "hub", "hub")


def scan(result: str, offline: bool = False) -> bytes:
    return Event.new("s1", "g1", "gate.scan", {"result": result, "offline": offline},
                     when=NOW).encode()


def test_status_events_and_occupancy() -> None:
    view = VenueView()
    view.apply(GATE.status(), Status("online", "0.1.0", role="gate").encode(), NOW)
    view.apply(HUB.status(), Status("online", "0.1.0", role="hub").encode(), NOW)
    view.apply(GATE.event("gate.scan"), scan("admit"), NOW)
    view.apply(GATE.event("gate.scan"), scan("reject", offline=True), NOW)
    passage = Event.new("s1", "g1", "gate.passage", {"passed": True, "direction": "in"}, when=NOW)
    view.apply(GATE.event("gate.passage"), passage.encode(), NOW)
    view.apply(GATE.telemetry(), b'{"outbox_depth": 2}', NOW)
    snap = view.snapshot(NOW)
    gate = next(d for d in snap["devices"] if d["role"] == "gate")
    assert (gate["admits"], gate["rejects"], gate["offline_decisions"]) == (1, 1, 1)
    assert gate["occupancy"] == 1 and snap["occupancy"] == 1
    assert gate["telemetry"] == {"outbox_depth": 2}
    assert snap["online"] == 2 and snap["offline"] == 0


def test_offline_and_reject_burst_raise_alerts() -> None:
    view = VenueView()
    view.apply(GATE.status(), Status("online").encode(), NOW)
    for _ in range(REJECT_BURST):
        view.apply(GATE.event("gate.scan"), scan("reject"), NOW)
    view.apply(GATE.status(), Status("offline").encode(), NOW)
    kinds = [a["kind"] for a in view.snapshot(NOW)["alerts"]]
    assert kinds == ["reject_burst", "device_offline"]
    view.apply(GATE.status(), b"", NOW)
    assert view.snapshot(NOW)["devices"] == []


def test_malformed_messages_are_counted() -> None:
    view = VenueView()
    view.apply(GATE.status(), b"\xff", NOW)
    view.apply(GATE.event("gate.scan"), b"{}", NOW)
    view.apply(GATE.telemetry(), b"[1]", NOW)
    view.apply("venue/v1/s1/printer/p1/status", b"{}", NOW)
    assert view.malformed == 4
