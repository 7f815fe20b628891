"""The daemon in-process on a real broker with mock pins: passage and annulment by the rotation
sensor, operator modes and commands (recorded with who asked). The hub is unreachable here on
purpose (a closed port), so every decision is the offline one over a prepared replica.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from gatekit import Issuer
from gpiozero.pins.mock import MockFactory
from helpers_mqtt import Collector, wait_for
from test_gate_e2e import Watch

from gate.config import GateConfig
from gate.daemon import GateDaemon
from gate.replica import ReplicaStore
from venue.config import load_config
from venue.messages import Event


@pytest.fixture
def watch(broker) -> Any:
    w = Watch(broker.port)
    yield w
    w.close()


@pytest.fixture
def gate(broker, tmp_path: Path, issuer: Issuer) -> Iterator[tuple[GateDaemon, MockFactory]]:
    cfg_path = tmp_path / "g.toml"
    cfg_path.write_text(f"""
[device]
site = "s1"
id = "g1"
data_dir = "{tmp_path / 'data'}"
[mqtt]
url = "{broker.url}"
[gate]
hub_url = "http://127.0.0.1:9"
budget_ms = 100
debounce_s = 0.2
annul_timeout_s = 0.5
probe_s = 0.5
telemetry_s = 0.3
[[scanner]]
kind = "stdin"
[io]
pulse_ms = 50
rotation_pin = 24
""")
    cfg = load_config(GateConfig, cfg_path, env={})
    replica = ReplicaStore(tmp_path / "data" / "gate-replica.db")
    body = issuer.replica()
    body["hub_time"] = "2026-01-01T00:00:00Z"
    replica.apply(body)
    replica.mark_synced(datetime.now(UTC))
    replica.close()
    factory = MockFactory()
    d = GateDaemon(cfg, pin_factory=factory, scanner=[], config_path=str(cfg_path))
    factory.pin(24).drive_high()  # rotation sensor at rest (pull-up)
    d.start()
    t = threading.Thread(target=d.run, daemon=True)
    t.start()
    yield d, factory
    d.request_stop()
    t.join(5)
    d.stop()
    factory.reset()


def _passages(watch: Watch) -> list[dict[str, Any]]:
    return [e.data for e in watch.events("gate.passage", "g1")]


def test_turn_counts_as_passage_and_no_turn_annuls(gate, watch, issuer: Issuer) -> None:
    d, factory = gate
    wait_for(lambda: watch.online("g1"), 10, "online")
    code = issuer.code(7, 1)
    d.submit(code)
    scan = watch.wait_scans(1)[0]
    assert (scan["result"], scan["offline"]) == ("admit", True)
    # Nobody turns the turnstile: the admission is annulled, offline, and reported.
    p = wait_for(lambda: _passages(watch), 10, "annulment")[0]
    assert (p["nonce"], p["passed"], p["annulled"], p["offline"]) == (
        scan["nonce"], False, True, True)
    entry = d.journal.get(scan["nonce"])
    assert entry is not None and entry.annulled and entry.state == "done"
    # The ticket was not used: the same code admits again, and this time the visitor turns.
    time.sleep(0.25)  # past the de-bounce window (setup)
    d.submit(code)
    second = watch.wait_scans(2)[1]
    assert second["result"] == "admit"
    factory.pin(24).drive_low()
    factory.pin(24).drive_high()
    p2 = wait_for(lambda: len(_passages(watch)) >= 2 and _passages(watch)[1], 10, "passage")
    assert (p2["nonce"], p2["passed"], p2["annulled"]) == (second["nonce"], True, False)
    # Used now: a third scan is already_used with the first (not annulled) use's time.
    time.sleep(0.25)
    d.submit(code)
    third = watch.wait_scans(3)[2]
    assert (third["result"], third["reason"]) == ("reject", "already_used")
    assert third["first_used_at"] == second["scanned_at"]


def test_modes_and_commands_are_recorded_with_who_asked(gate, watch, issuer: Issuer) -> None:
    d, factory = gate
    relay = factory.pin(17)
    wait_for(lambda: watch.online("g1"), 10, "online")
    assert watch.command("g1", "lock")["data"] == {"mode": "locked"}
    d.submit(issuer.code(7, 3))
    locked = watch.wait_scans(1)[0]
    assert (locked["result"], locked["reason"]) == ("reject", "error")
    assert relay.state is False and not any(s.state for s in relay.states)
    assert watch.command("g1", "unlock")["data"] == {"mode": "normal"}
    res = watch.command("g1", "open", {"by": "steward-anna"})
    assert res["ok"] and res["data"]["by"] == "steward-anna"
    wait_for(lambda: any(s.state for s in relay.states), 5, "relay pulse for open")
    assert watch.command("g1", "free-passage", {"on": True})["data"]["mode"] == "free-passage"
    wait_for(lambda: relay.state is True, 5, "relay held open")
    d.submit(issuer.code(7, 4))  # still decided and logged during free passage
    logged = watch.wait_scans(2)[1]
    assert logged["result"] == "admit"
    assert relay.state is True
    watch.command("g1", "free-passage", {"on": False})
    wait_for(lambda: relay.state is False, 5, "relay released")
    ops = [(name, by) for _, name, by, _ in d.journal.operations()]
    assert ops == [("lock", "test-operator"), ("unlock", "test-operator"),
                   ("open", "steward-anna"), ("free-passage", "test-operator"),
                   ("free-passage", "test-operator")]
    pong = watch.command("g1", "ping")["data"]
    assert pong["mode"] == "normal" and pong["offline"] is True and pong["admits"] == 1
    assert watch.command("g1", "reload")["data"] == {"reloaded": True}
    tele = wait_for(lambda: watch.c.on("venue/v1/s1/gate/g1/telemetry"), 5, "telemetry")
    body = json.loads(tele[-1].payload)
    for key in ("scans_per_min", "admits", "rejects", "offline", "replica_age_s", "queue_depth",
                "garbage_total", "mode"):
        assert key in body, key
    assert body["offline"] is True and body["replica_age_s"] < 60
    statuses = [json.loads(m.payload) for m in watch.c.on("venue/v1/s1/gate/g1/status")]
    assert statuses[-1]["state"] == "online"
    assert all(Event.decode(m.payload) for m in watch.c.all() if "/event/" in m.topic)


def test_home_assistant_discovery_is_retained(gate, watch, broker) -> None:
    wait_for(lambda: watch.online("g1"), 10, "online")
    ha = Collector(broker.port, "homeassistant/device/+/config")
    try:
        msgs = wait_for(lambda: ha.on("homeassistant/device/g1/config"), 10, "discovery")
        assert msgs[0].retain
        body = json.loads(msgs[0].payload)
        assert body["availability_topic"] == "venue/v1/s1/gate/g1/status"
        comps = body["components"]
        assert comps["offline"]["platform"] == "binary_sensor"
        assert comps["scans_per_min"]["state_topic"] == "venue/v1/s1/gate/g1/telemetry"
    finally:
        ha.close()


def test_folder_scanner_from_config_decodes_and_decides(broker, watch, tmp_path: Path,
                                                        issuer: Issuer) -> None:
    from gatekit import qr_frame

    frames = tmp_path / "frames"
    frames.mkdir()
    qr_frame(issuer.code(7, 1)).save(frames / "a.png")
    qr_frame("not a ticket").save(frames / "b.png")
    cfg_path = tmp_path / "g.toml"
    cfg_path.write_text(f"""
[device]
site = "s1"
id = "g1"
data_dir = "{tmp_path / 'data'}"
[mqtt]
url = "{broker.url}"
[gate]
hub_url = "http://127.0.0.1:9"
[[scanner]]
kind = "folder"
path = "{frames}"
direction = "in"
[decoder]
order = ["zxing", "pyzbar"]
roi = [0.1, 0.1, 0.8, 0.8]
[io]
pin_factory = "mock"
""")
    cfg = load_config(GateConfig, cfg_path, env={})
    replica = ReplicaStore(tmp_path / "data" / "gate-replica.db")
    replica.apply(issuer.replica())
    replica.mark_synced(datetime.now(UTC))
    replica.close()
    d = GateDaemon(cfg)
    d.start()
    t = threading.Thread(target=d.run, daemon=True)
    t.start()
    try:
        got = watch.wait_scans(2)
        assert [(s["result"], s["reason"], s["source"]) for s in got] == [
            ("admit", "ok", "camera"), ("reject", "invalid", "camera")]
        assert d.sources[0].stats["frames"] == 2
    finally:
        d.request_stop()
        t.join(5)
        d.stop()
