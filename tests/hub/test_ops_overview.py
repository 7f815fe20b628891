"""What the dashboard shows: the pure shaping (throughput, occupancy, bursts, alerts, device rows)
and the overview endpoint over real redemptions, conflicts and devices (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from hubkit import ADMIN_H, token

from hub.api.app import create_app
from hub.db import Database
from hub.models import Conflict, Device
from hub.ops.overview import (
    Attempt,
    alerts,
    merge_devices,
    occupancy,
    reject_bursts,
    throughput,
)
from venue.clock import FakeClock

T0 = datetime(2026, 6, 1, 20, 0, tzinfo=UTC)


def _a(minute: int, result: str = "admit", direction: str = "in", gate: str = "g1",
       annulled: bool = False) -> Attempt:
    return Attempt(gate, result, direction, annulled, T0 + timedelta(minutes=minute, seconds=5))


def test_throughput_counts_per_gate_and_minute_and_ignores_outside_the_window() -> None:
    rows = [_a(0), _a(0, "reject"), _a(2, gate="g2"), _a(2, annulled=True), _a(-1), _a(9)]
    tp = throughput(rows, T0, T0 + timedelta(minutes=3))
    assert tp["buckets"] == 4
    assert tp["gates"]["g1"] == {"admit": [1, 0, 0, 0], "reject": [1, 0, 1, 0]}
    assert tp["gates"]["g2"] == {"admit": [0, 0, 1, 0], "reject": [0, 0, 0, 0]}


def test_occupancy_is_entries_minus_exits_from_the_level_before() -> None:
    rows = [_a(0), _a(0), _a(1, direction="out"), _a(1, "reject"), _a(2, annulled=True), _a(2)]
    occ = occupancy(rows, 10, T0, T0 + timedelta(minutes=2))
    assert occ["inside"] == [12, 11, 12] and occ["now"] == 12


def test_reject_burst_needs_five_rejections_in_a_row_at_one_gate() -> None:
    four = [_a(i, "reject") for i in range(4)]
    assert reject_bursts(four) == []
    burst = reject_bursts([_a(0), *four, _a(5, "reject"), _a(5, "admit", gate="g2")])
    assert [(b["kind"], b["device"]) for b in burst] == [("reject_burst", "g1")]
    assert reject_bursts([*four, _a(5, "reject"), _a(6)]) == []


def test_device_rows_and_alerts() -> None:
    table = [
        Device(key="s/gate/g1", site="s", role="gate", device="g1", state="online",
               version="1.0", last_seen=T0 - timedelta(minutes=30), status_at=T0),
        Device(key="s/gate/g2", site="s", role="gate", device="g2", state="offline",
               last_seen=T0, status_at=T0),
    ]
    live: list[dict[str, Any]] = [
            {"site": "s", "role": "gate", "device": "g1", "state": "online", "version": "1.1",
             "last_seen": "2026-06-01T20:00:00Z", "telemetry": {"outbox_depth": 4},
             "admits": 3, "rejects": 1, "offline_decisions": 0, "occupancy": 2},
            {"site": "s", "role": "beacon", "device": "b1", "state": "unknown",
             "last_seen": None, "telemetry": {}, "presence": 5}]
    rows = merge_devices(table, live)
    by = {r["key"]: r for r in rows}
    assert by["s/gate/g1"]["version"] == "1.1" and by["s/gate/g1"]["outbox"] == 4
    assert by["s/gate/g1"]["last_seen"] == "2026-06-01T20:00:00Z"
    assert by["s/gate/g1"]["counters"]["admits"] == 3
    assert by["s/beacon/b1"]["counters"] == {"presence": 5}
    conflict = Conflict(ref="1:7", nonce="n", gate="g2", first_gate="g1", gates=["g1", "g2"],
                        scanned_at=T0, detected_at=T0)
    found = alerts(rows, [conflict], [], T0 + timedelta(minutes=1))
    assert [(a["kind"], a["device"]) for a in found] == [
        ("device_offline", "s/gate/g2"), ("offline_conflict", "g2")]
    later = alerts(rows, [], [], T0 + timedelta(minutes=10))
    assert ("device_silent", "s/gate/g1") in [(a["kind"], a["device"]) for a in later]


def test_overview_endpoint_over_real_rows(any_db: Database, clock: FakeClock) -> None:
    with TestClient(create_app(any_db, clock=clock, token_ttl=0.0)) as c:
        c.post("/api/v1/series", headers=ADMIN_H,
               json={"name": "Gala", "issue_count": 3}).raise_for_status()
        for i, serial in enumerate((0, 2, 1, 1, 1, 1, 1, 1)):
            code = c.get(f"/api/v1/codes/1:{serial}", headers=ADMIN_H).json()["code"]
            c.post("/api/v1/redemptions", headers=ADMIN_H, json={
                "code": code, "gate": "g1", "nonce": f"n-{i}"}).raise_for_status()
        with any_db.write() as s:
            s.add(Device(key="s/gate/g9", site="s", role="gate", device="g9", state="offline",
                         status_at=clock.now()))
        op = token(any_db, clock, "operator", "desk")
        o = c.get("/api/v1/ops/overview", headers=op).json()
        assert o["live"] is False
        assert o["occupancy"]["now"] == 3
        g1 = o["throughput"]["gates"]["g1"]
        assert (sum(g1["admit"]), sum(g1["reject"])) == (3, 5)
        assert {a["kind"] for a in o["alerts"]} == {"device_offline", "reject_burst"}
        assert [d["device"] for d in o["devices"]] == ["g9"]
        assert o["register"] == []
        assert c.get("/api/v1/ops/overview",
                     headers=token(any_db, clock, "validator", "v")).status_code == 403
