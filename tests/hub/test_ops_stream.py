"""The live event stream over a real uvicorn and Mosquitto: events and status changes as
server-sent events, a reconnect with ``Last-Event-ID`` resumes after the last one seen, phone
numbers masked, operators only."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from helpers_mqtt import wait_for
from hubkit import ADMIN_H, LiveServer, start_server, token

from hub.api.app import create_app
from hub.db import Database
from hub.ops.live import EventFeed, OpsLive
from venue.clock import FakeClock
from venue.config import MqttSection
from venue.mqtt import MqttLink
from venue.topics import DeviceRef


@pytest.fixture
def server(db: Database, clock: FakeClock, broker: Any) -> Iterator[tuple[LiveServer, OpsLive]]:
    live = OpsLive(MqttSection(url=broker.url), clock=clock)
    live.start()
    assert live.wait_ready(10)
    app = create_app(db, clock=clock, token_ttl=0.0)
    app.state.hub.extra["ops"] = live
    s = start_server(app)
    yield s, live
    s.stop()
    live.stop()


def _read(url: str, headers: dict[str, str], until: int) -> list[tuple[str, str, dict[str, Any]]]:
    """``(id, event, data)`` of the stream's items until one with id ``until`` arrives."""
    got: list[tuple[str, str, dict[str, Any]]] = []
    done = threading.Event()

    def run() -> None:
        with httpx.stream("GET", f"{url}/api/v1/events/stream", headers=headers,
                          timeout=10) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            ident = kind = ""
            for line in r.iter_lines():
                if line.startswith("id: "):
                    ident = line[4:]
                elif line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    got.append((ident, kind, json.loads(line[6:])))
                    if ident == str(until):
                        break
        done.set()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert done.wait(15), f"stream stopped at {got}"
    return got


def test_stream_sends_events_and_resumes_after_last_event_id(
        server: tuple[LiveServer, OpsLive], broker: Any) -> None:
    srv, live = server
    gate = MqttLink(DeviceRef("s1", "gate", "g1"), MqttSection(url=broker.url),
                    client_id="stream-g1")
    gate.start()
    try:
        assert gate.wait_connected(10)
        for i in range(3):
            gate.publish_event("gate.scan", {"result": "admit", "n": i,
                                             "note": "+380671234567"})
        wait_for(lambda: live.feed.last >= 4, what="status and three events in the feed")
        items = _read(srv.url, ADMIN_H, until=4)
        assert [(i, k) for i, k, _ in items] == [
            ("1", "status"), ("2", "event"), ("3", "event"), ("4", "event")]
        assert items[0][2]["device"] == "s1/gate/g1" and items[0][2]["state"] == "online"
        assert [d["data"]["n"] for _, _, d in items[1:]] == [0, 1, 2]
        assert all("1234567" not in json.dumps(d) for _, _, d in items)
        # A reconnect that saw up to 2 gets 3 and 4 and nothing before.
        again = _read(srv.url, {**ADMIN_H, "Last-Event-ID": "2"}, until=4)
        assert [i for i, _, _ in again] == ["3", "4"]
    finally:
        gate.stop(1.0)


def test_stream_is_for_operators_only(server: tuple[LiveServer, OpsLive], db: Database,
                                      clock: FakeClock) -> None:
    srv, _ = server
    with httpx.Client(base_url=srv.url) as http:
        assert http.get("/api/v1/events/stream").status_code == 401
        kiosk = token(db, clock, "kiosk", "k1")
        assert http.get("/api/v1/events/stream", headers=kiosk).status_code == 403


def test_feed_numbers_items_and_keeps_the_newest() -> None:
    feed = EventFeed(size=3)
    for i in range(5):
        feed.add("event", {"n": i})
    assert feed.last == 5
    assert [(x["seq"], x["n"]) for x in feed.since(0)] == [(3, 2), (4, 3), (5, 4)]
    assert feed.since(5) == []
