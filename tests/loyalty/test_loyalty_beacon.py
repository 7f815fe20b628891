"""Beacon presence → visit credit through the MQTT ingest core (real SQLite, no broker needed:
``ingest_batch`` takes the (topic, payload) pairs the broker would deliver)."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from loyaltykit import ADMIN_H, ok, points, register, seed

from hub.db import Database
from hub.ingest import ingest_batch
from venue.beacon_ids import BeaconPair, beacon_pair, utc_day
from venue.clock import FakeClock
from venue.messages import Event, rfc3339
from venue.topics import DeviceRef

SITE = "s1"


def beacon_event(clock: FakeClock, kind: str, pair: tuple[int, int] | BeaconPair, *,
                 since_ago_s: float, dwell_s: float) -> Event:
    since = clock.now() - timedelta(seconds=since_ago_s)
    data: dict[str, Any] = {"uuid": "app", "major": pair[0], "minor": pair[1], "scanner": "b1",
                            "since": rfc3339(since), "dwell_s": dwell_s, "rssi": -60}
    return Event.new(SITE, "b1", f"beacon.{kind}", data, when=clock.now())


def feed(db: Database, clock: FakeClock, *events: Event) -> Any:
    msgs = [(DeviceRef(SITE, "beacon", e.device).event(e.type), e.encode()) for e in events]
    return ingest_batch(db, msgs, clock=clock)


def test_beacon_visit_credits_after_the_minimum_dwell_once(client: TestClient, db: Database,
                                                           clock: FakeClock) -> None:
    s = seed(client, visit_points=10, cooldown_s=3600)
    ok(client.put(f"/api/v1/businesses/{s.business}/rules", headers=ADMIN_H,
                  json={"visit_points": 10, "visit_cooldown_s": 3600, "beacon_visits": True,
                        "beacon_min_dwell_s": 300}))
    c = register(client, s)["customer"]
    app = ok(client.post(f"/api/v1/customers/{c}/installs", headers=s.register_h), 201)
    pair = beacon_pair(base64.b64decode(app["secret"]), utc_day(clock.now()))

    short = beacon_event(clock, "enter", pair, since_ago_s=60, dwell_s=60)
    assert feed(db, clock, short).visits == 0  # not long enough yet
    assert points(client, s) == 0
    clock.advance(400)
    exit_ = beacon_event(clock, "exit", pair, since_ago_s=460, dwell_s=400)
    res = feed(db, clock, exit_)
    assert (res.stored, res.visits) == (1, 1)
    assert points(client, s) == 10
    assert feed(db, clock, exit_).duplicates == 1  # redelivered by the broker
    same_visit = Event.new(SITE, "b1", "beacon.exit", dict(exit_.data), when=clock.now())
    assert feed(db, clock, same_visit).visits == 0  # another copy of the visit: same key
    clock.advance(600)
    again = beacon_event(clock, "exit", pair, since_ago_s=400, dwell_s=350)
    assert feed(db, clock, again).visits == 0  # a new visit, inside the cooldown
    stranger = beacon_event(clock, "exit", ((pair[0] + 1) % 65536, pair[1]), since_ago_s=400,
                            dwell_s=400)
    assert feed(db, clock, stranger).visits == 0
    clock.advance(3600)
    later = beacon_event(clock, "exit", pair, since_ago_s=400, dwell_s=350)
    assert feed(db, clock, later).visits == 1
    assert points(client, s) == 20
    broken = Event.new(SITE, "b1", "beacon.exit", {"major": "x"}, when=clock.now())
    assert feed(db, clock, broken).malformed == 1


def test_beacon_visits_are_off_unless_the_business_turns_them_on(
        client: TestClient, db: Database, clock: FakeClock) -> None:
    s = seed(client, visit_points=10)
    c = register(client, s)["customer"]
    app = ok(client.post(f"/api/v1/customers/{c}/installs", headers=s.register_h), 201)
    pair = beacon_pair(base64.b64decode(app["secret"]), utc_day(clock.now()))
    assert feed(db, clock, beacon_event(clock, "exit", pair, since_ago_s=900,
                                        dwell_s=900)).visits == 0
    assert points(client, s) == 0
