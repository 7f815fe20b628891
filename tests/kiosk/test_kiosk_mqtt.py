"""The kiosk on a real broker: check-in/order events with customer ids only, ping, reload."""

from __future__ import annotations

import json
from pathlib import Path

from helpers_mqtt import Collector, wait_for
from kioskkit import KNOWN_DIGITS, type_number

from kiosk.config import KioskConfig
from kiosk.runner import SyncRunner
from kiosk.states import Screen
from kiosk.wiring import build
from venue.clock import FakeClock
from venue.config import load_config
from venue.messages import Command, CommandResult, Event


def test_events_ping_and_reload_over_mqtt(broker, tmp_path: Path, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    cfg = load_config(KioskConfig, None, env={}, overrides={
        "device.site": "s1", "device.id": "k7", "device.data_dir": str(tmp_path),
        "mqtt.url": broker.url, "kiosk.hub_url": "demo:",
    })
    kiosk = build(cfg, SyncRunner(), clock=clock)
    reloads: list[str] = []
    kiosk.attach_commands(lambda fn: fn(), lambda: reloads.append("reload"))
    root = "venue/v1/s1/kiosk/k7"
    col = Collector(broker.port, f"{root}/#")
    col.wait_subscribed()
    kiosk.link.start()
    try:
        assert kiosk.link.wait_subscribed(10)
        p = kiosk.presenter
        p.begin()
        type_number(p, KNOWN_DIGITS)
        p.submit_phone()
        p.open_shop()
        p.choose_category(3)
        p.add_item(11)
        p.open_cart()
        p.submit_order()
        assert p.state.screen == Screen.ORDER
        wait_for(lambda: len([m for m in col.all() if "/event/" in m.topic]) >= 2, 10, "2 events")
        events = [Event.decode(m.payload) for m in col.all() if "/event/" in m.topic]
        assert [e.type for e in events] == ["kiosk.checkin", "kiosk.order"]
        assert events[0].data == {"customer": "c_demo0001", "business": 1, "credited": True,
                                  "reason": "ok", "offline": False}
        assert events[1].data["number"] == "A-017" and events[1].data["total"] == "55.00"
        assert "671234567" not in json.dumps([e.to_dict() for e in events])

        for name in ("ping", "reload"):
            cmd = Command(name, by="test")
            col.publish(f"{root}/cmd/{name}", cmd.encode())
            res = wait_for(lambda c=cmd: next((CommandResult.decode(m.payload) for m in col.all()
                                               if m.topic.endswith("cmd_result")
                                               and CommandResult.decode(m.payload).id == c.id),
                                              None), 10, f"{name} result")
            assert res.ok
            if name == "ping":
                assert res.data["pong"] is True and res.data["screen"] == "order"
                assert res.data["checkins"] == 1 and res.data["orders"] == 1
                assert res.data["queued_credits"] == 0 and "rss_bytes" in res.data
        assert reloads == ["reload"]
        status = [m for m in col.all() if m.topic == f"{root}/status"]
        assert json.loads(status[0].payload)["state"] == "online"
    finally:
        col.close()
        kiosk.close()
