"""Home Assistant discovery of every role (venue/ha.py), checked against what Home Assistant's MQTT
integration requires, and live on a real broker with the real daemons.

``ha_check`` below transcribes Home Assistant's own rules (homeassistant/components/mqtt:
``schemas.DEVICE_DISCOVERY_SCHEMA``, the abbreviation tables and the platform schemas of sensor,
binary_sensor and button): the abbreviated keys are expanded first, as Home Assistant does, so a
payload in either spelling is checked the same way. Templates are evaluated for the two forms we
write (``{{ value_json.f }}`` and ``{{ 'ON' if value_json.f else 'OFF' }}``) against the payloads
the real devices publish, so a renamed telemetry field breaks this test, not the operator's HA.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers_mqtt import Collector, wait_for

from venue import ha
from venue.config import MqttSection
from venue.messages import CommandResult, Status, dump_json
from venue.mqtt import MqttLink
from venue.topics import DeviceRef, ha_discovery, parse_topic

# -- Home Assistant's rules ------------------------------------------------------------------

ABBREVIATIONS = {  # the subset of homeassistant/components/mqtt/abbreviations.py that matters
    "avty": "availability", "avty_t": "availability_topic", "avty_tpl": "availability_template",
    "cmd_t": "command_topic", "cmps": "components", "dev": "device", "ent_cat": "entity_category",
    "o": "origin", "p": "platform", "pl_avail": "payload_available",
    "pl_not_avail": "payload_not_available", "pl_prs": "payload_press", "stat_cla": "state_class",
    "stat_t": "state_topic", "t": "topic", "uniq_id": "unique_id",
    "unit_of_meas": "unit_of_measurement", "val_tpl": "value_template",
}
DEVICE_ABBREVIATIONS = {"ids": "identifiers", "mf": "manufacturer", "mdl": "model",
                        "sw": "sw_version", "sn": "serial_number", "name": "name"}
ORIGIN_ABBREVIATIONS = {"name": "name", "sw": "sw_version", "url": "support_url"}
DEVICE_KEYS = {"identifiers", "connections", "manufacturer", "model", "name", "hw_version",
               "serial_number", "sw_version", "via_device", "suggested_area", "configuration_url"}
ORIGIN_KEYS = {"name", "sw_version", "support_url"}
# Keys a device-level body may hold (the shared options are inherited by every component).
BODY_KEYS = {"device", "origin", "components", "availability", "availability_mode",
             "availability_template", "availability_topic", "payload_available",
             "payload_not_available", "state_topic", "command_topic", "qos", "encoding"}
PLATFORM_REQUIRED = {"sensor": {"state_topic"}, "binary_sensor": {"state_topic"},
                     "button": {"command_topic"}}
PLATFORM_KEYS = {
    "sensor": {"platform", "name", "unique_id", "state_topic", "value_template",
               "unit_of_measurement", "state_class", "device_class", "entity_category",
               "expire_after", "force_update", "icon"},
    "binary_sensor": {"platform", "name", "unique_id", "state_topic", "value_template",
                      "payload_on", "payload_off", "device_class", "entity_category",
                      "expire_after", "off_delay", "icon"},
    "button": {"platform", "name", "unique_id", "command_topic", "payload_press",
               "command_template", "qos", "retain", "device_class", "entity_category", "icon"},
}
STATE_CLASSES = {"measurement", "total", "total_increasing"}
OBJECT_ID = re.compile(r"^[a-zA-Z0-9_-]+$")  # discovery.TOPIC_MATCHER
TEMPLATE = re.compile(r"^\{\{ (?:'ON' if )?value_json\.(\w+)(?: else 'OFF')? \}\}$")


def expand(d: dict[str, Any], table: dict[str, str]) -> dict[str, Any]:
    return {table.get(k, k): v for k, v in d.items()}


def render(template: str, payload: bytes) -> str:
    """Our two template forms, evaluated like Home Assistant's Jinja would on ``payload``."""
    m = TEMPLATE.match(template)
    assert m, f"template outside the checked forms: {template!r}"
    body = json.loads(payload)
    assert m.group(1) in body, f"{m.group(1)!r} not in the payload {sorted(body)}"
    value = body[m.group(1)]
    if "'ON'" in template:
        return "ON" if value else "OFF"
    return str(value)


def valid_subscribe_topic(t: str) -> bool:
    return bool(t) and "\0" not in t and all(
        p in ("+", "#") or ("+" not in p and "#" not in p) for p in t.split("/"))


def valid_publish_topic(t: str) -> bool:
    return valid_subscribe_topic(t) and "+" not in t and "#" not in t


def ha_check(topic: str, raw: bytes) -> dict[str, Any]:
    """Validate one device discovery message as Home Assistant would; the expanded payload."""
    prefix, kind, oid, last = topic.split("/")
    assert (prefix, kind, last) == ("homeassistant", "device", "config") and OBJECT_ID.match(oid)
    body = expand(json.loads(raw), ABBREVIATIONS)
    assert set(body) <= BODY_KEYS, set(body) - BODY_KEYS
    dev = expand(body["device"], DEVICE_ABBREVIATIONS)  # required
    assert set(dev) <= DEVICE_KEYS and dev["identifiers"], "a device needs an identifier"
    assert all(isinstance(i, str) for i in dev["identifiers"])
    origin = expand(body["origin"], ORIGIN_ABBREVIATIONS)  # required, with a name
    assert set(origin) <= ORIGIN_KEYS and isinstance(origin["name"], str) and origin["name"]
    assert "availability" not in body or "availability_topic" not in body  # vol.Exclusive
    assert valid_subscribe_topic(body["availability_topic"])
    assert body.get("qos", 0) in (0, 1, 2)
    comps = body["components"]
    assert isinstance(comps, dict) and comps
    out = {**body, "device": dev, "origin": origin, "components": {}}
    for cid, c in comps.items():
        c = expand(c, ABBREVIATIONS)
        platform = c["platform"]  # required
        assert platform in PLATFORM_REQUIRED, platform
        inherited = {k: body[k] for k in ("state_topic", "command_topic") if k in body}
        assert PLATFORM_REQUIRED[platform] <= set(c) | set(inherited), (cid, platform)
        assert set(c) <= PLATFORM_KEYS[platform], (cid, set(c) - PLATFORM_KEYS[platform])
        if "state_topic" in c:
            assert valid_subscribe_topic(c["state_topic"])
        if "command_topic" in c:
            assert valid_publish_topic(c["command_topic"])
        if "state_class" in c:
            assert c["state_class"] in STATE_CLASSES
        if "entity_category" in c:
            assert c["entity_category"] in ("config", "diagnostic")
        out["components"][cid] = c
    return out


# -- pure checks over every role -----------------------------------------------------------------

ROLES: list[tuple[DeviceRef, tuple[ha.Entity, ...]]] = [
    (DeviceRef("s1", "gate", "g1"), ha.GATE_ENTITIES),
    (DeviceRef("s1", "gate", "g2"), ha.GATE_ENTITIES),
    (DeviceRef("s1", "beacon", "b1"), ha.BEACON_ENTITIES),
    (DeviceRef("s1", "kiosk", "k1"), ha.KIOSK_ENTITIES),
    (DeviceRef("s1", "hub", "h1"), ha.HUB_ENTITIES),
    (DeviceRef("s2", "gate", "g1"), ha.GATE_ENTITIES),  # same device id at another site
]


def test_every_role_is_valid_discovery_with_unique_ids_bound_to_its_own_topics() -> None:
    unique_ids: list[str] = []
    identifiers: list[str] = []
    for ref, entities in ROLES:
        body = ha_check(ha_discovery(ref.device), dump_json(
            ha.discovery_payload(ref, entities)))
        # availability is the device's retained status, read the way MqttLink writes it
        assert body["availability_topic"] == ref.status()
        online, offline = Status("online", role=ref.role).encode(), Status("offline").encode()
        assert render(body["availability_template"], online) == body["payload_available"]
        assert render(body["availability_template"], offline) == body["payload_not_available"]
        identifiers += body["device"]["identifiers"]
        for cid, c in body["components"].items():
            unique_ids.append(c["unique_id"])
            if c["platform"] == "button":
                # the device's own command topic; the press is a command envelope it accepts
                parsed = parse_topic(c["command_topic"])
                assert parsed.ref == ref and parsed.kind == "cmd" and parsed.name == cid
                cmd = json.loads(c["payload_press"])
                assert isinstance(cmd["id"], str) and cmd["by"] == "home-assistant"
            else:
                parsed = parse_topic(c["state_topic"])
                assert parsed.ref == ref and parsed.kind in ("telemetry", "status")
    assert len(unique_ids) == len(set(unique_ids)), "unique ids repeat across devices"
    assert len(identifiers) == len(set(identifiers))


def test_gate_shows_counters_state_and_an_open_button() -> None:
    comps = ha.discovery_payload(DeviceRef("s1", "gate", "g1"), ha.GATE_ENTITIES)["components"]
    assert {"admits", "rejects", "scans_per_min", "mode", "offline", "open"} <= set(comps)
    assert comps["open"]["platform"] == "button"
    assert comps["open"]["command_topic"] == "venue/v1/s1/gate/g1/cmd/open"
    beacon = ha.discovery_payload(DeviceRef("s1", "beacon", "b1"), ha.BEACON_ENTITIES)
    assert beacon["components"]["present"]["platform"] == "sensor"
    kiosk = ha.discovery_payload(DeviceRef("s1", "kiosk", "k1"), ha.KIOSK_ENTITIES)
    assert kiosk["components"]["screen"]["state_topic"] == "venue/v1/s1/kiosk/k1/telemetry"


def test_abbreviated_spelling_checks_the_same_and_mistakes_are_caught() -> None:
    ref = DeviceRef("s1", "gate", "g1")
    good = ha.discovery_payload(ref, ha.GATE_ENTITIES)
    short = {"dev": good["device"], "o": good["origin"], "avty_t": good["availability_topic"],
             "avty_tpl": good["availability_template"],
             "cmps": {k: {("p" if kk == "platform" else kk): vv for kk, vv in v.items()}
                      for k, v in good["components"].items()}}
    ha_check("homeassistant/device/g1/config", json.dumps(short).encode())
    for broken in (
        {k: v for k, v in good.items() if k != "origin"},
        {**good, "device": {"name": "no identifiers"}},
        {**good, "components": {"x": {"name": "no platform", "state_topic": "a/b"}}},
        {**good, "components": {"x": {"platform": "sensor", "name": "no state topic"}}},
        {**good, "components": {"x": {"platform": "button", "command_topic": "a/+/b"}}},
    ):
        with pytest.raises((AssertionError, KeyError)):
            ha_check("homeassistant/device/g1/config", json.dumps(broken).encode())
    with pytest.raises(ValueError, match="duplicate"):
        ha.discovery_payload(ref, [ha.sensor("a", "A"), ha.sensor("a", "B")])


# -- live on a real broker ---------------------------------------------------------------------


def _discovery(col: Collector, device: str, n: int = 1) -> list[Any]:
    return wait_for(lambda: len(col.on(f"homeassistant/device/{device}/config")) >= n
                    and col.on(f"homeassistant/device/{device}/config"), 10,
                    f"{n} discovery message(s) of {device}")


def test_link_republishes_when_home_assistant_comes_online(broker: Any) -> None:
    """Retained on connect; again for each ``homeassistant/status`` = ``online``, not for
    ``offline``; also on a link that acks by hand (the hub's)."""
    ref = DeviceRef("s1", "hub", "h1")
    link = MqttLink(ref, MqttSection(url=broker.url), manual_ack=True)
    disc = ha.attach(link, ha.HUB_ENTITIES)
    ha_side = Collector(broker.port, "homeassistant/device/+/config", "venue/v1/s1/hub/h1/status")
    ha_side.wait_subscribed()
    link.start()
    try:
        assert link.wait_subscribed(10)
        first = _discovery(ha_side, "h1")[0]
        body = ha_check(first.topic, first.payload)
        assert body["components"]["state"]["state_topic"] == ref.status()
        status = wait_for(lambda: ha_side.on(ref.status()), 10, "hub status")[-1]
        assert render(body["components"]["state"]["value_template"], status.payload) == "online"

        ha_side.publish(ha.HA_STATUS, b"offline")
        ha_side.publish(ha.HA_STATUS, b"online")
        _discovery(ha_side, "h1", 2)
        ha_side.publish(ha.HA_STATUS, b"online")
        _discovery(ha_side, "h1", 3)
        assert disc.published == 3  # connect + two births; the `offline` published nothing
        # a fresh subscriber (Home Assistant after a restart) gets the retained copy
        late = Collector(broker.port, "homeassistant/device/+/config")
        try:
            got = _discovery(late, "h1")[0]
            assert got.retain and got.payload == first.payload
        finally:
            late.close()
        # reconnecting publishes again (a broker that lost its retained store is filled in)
        broker.restart()
        wait_for(lambda: disc.published >= 4, 15, "discovery after reconnect")
        assert link.stats()["handler_errors"] == 0
    finally:
        link.stop()
        ha_side.close()


@pytest.fixture
def gate(broker: Any, tmp_path: Path) -> Iterator[Any]:
    from gpiozero.pins.mock import MockFactory

    from gate.config import GateConfig
    from gate.daemon import GateDaemon
    from venue.config import load_config

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
probe_s = 0.5
telemetry_s = 0.2
[[scanner]]
kind = "stdin"
[io]
pulse_ms = 50
rotation_pin = 24
""")
    factory = MockFactory()
    d = GateDaemon(load_config(GateConfig, cfg_path, env={}), pin_factory=factory, scanner=[],
                   config_path=str(cfg_path))
    factory.pin(24).drive_high()
    d.start()
    t = threading.Thread(target=d.run, daemon=True)
    t.start()
    yield d, factory
    d.request_stop()
    t.join(5)
    d.stop()
    factory.reset()


def test_gate_discovery_matches_its_telemetry_and_the_open_button_opens(
        gate: Any, broker: Any) -> None:
    d, factory = gate
    relay = factory.pin(17)
    col = Collector(broker.port, "homeassistant/device/+/config", "venue/v1/s1/gate/g1/#")
    col.wait_subscribed()
    try:
        msg = _discovery(col, "g1")[0]
        assert msg.retain
        body = ha_check(msg.topic, msg.payload)
        tele = wait_for(lambda: col.on("venue/v1/s1/gate/g1/telemetry"), 10, "telemetry")[-1]
        for c in body["components"].values():
            if c["platform"] != "button":  # every sensor finds its field in real telemetry
                render(c["value_template"], tele.payload)
        assert render(body["components"]["mode"]["value_template"], tele.payload) == "normal"
        # Home Assistant presses "open": it publishes payload_press on command_topic
        button = body["components"]["open"]
        assert not any(s.state for s in relay.states)
        col.publish(button["command_topic"], button["payload_press"], qos=1)
        res = wait_for(lambda: [CommandResult.decode(m.payload)
                                for m in col.on("venue/v1/s1/gate/g1/cmd_result")], 10, "result")
        assert res[0].ok and res[0].id == "ha-open" and res[0].data["by"] == "home-assistant"
        wait_for(lambda: any(s.state for s in relay.states), 5, "relay pulse")
        assert ("open", "home-assistant") in [(n, by) for _, n, by, _ in d.journal.operations()]
    finally:
        col.close()


def test_beacon_and_kiosk_publish_discovery_their_telemetry_fills(
        broker: Any, tmp_path: Path, clock: Any) -> None:
    from beacon.config import BeaconConfig, BeaconSection
    from beacon.daemon import BeaconDaemon
    from kiosk.config import KioskConfig
    from kiosk.runner import SyncRunner
    from kiosk.wiring import build
    from venue.config import DeviceSection, load_config

    col = Collector(broker.port, "homeassistant/device/+/config", "venue/v1/s1/+/+/cmd_result")
    col.wait_subscribed()
    beacon = BeaconDaemon(BeaconConfig(
        device=DeviceSection(site="s1", id="b1", data_dir=str(tmp_path / "b")),
        mqtt=MqttSection(url=broker.url),
        beacon=BeaconSection(app_uuids=["e2c56db5-dffb-48d2-b060-d0f5a71096e0"])))
    kcfg = load_config(KioskConfig, None, env={}, overrides={
        "device.site": "s1", "device.id": "k1", "device.data_dir": str(tmp_path / "k"),
        "mqtt.url": broker.url, "kiosk.hub_url": "demo:"})
    kiosk = build(kcfg, SyncRunner(), clock=clock)
    reloads: list[str] = []
    kiosk.attach_commands(lambda fn: fn(), lambda: reloads.append("reload"))
    beacon.link.start()
    kiosk.link.start()
    try:
        b = ha_check(*_topic_payload(_discovery(col, "b1")[0]))
        assert b["device"]["identifiers"] == ["venue_s1_beacon_b1"]
        tele = dump_json(beacon.telemetry() | {"outbox_depth": 0})
        for c in b["components"].values():
            render(c["value_template"], tele)
        assert render(b["components"]["present"]["value_template"], tele) == "0"

        k = ha_check(*_topic_payload(_discovery(col, "k1")[0]))
        ktele = dump_json(kiosk.telemetry())
        for c in k["components"].values():
            if c["platform"] != "button":
                render(c["value_template"], ktele)
        reload_button = k["components"]["reload"]
        assert kiosk.link.wait_subscribed(10)
        col.publish(reload_button["command_topic"], reload_button["payload_press"])
        wait_for(lambda: reloads == ["reload"], 10, "kiosk reload from Home Assistant")
    finally:
        beacon.link.stop()
        kiosk.close()
        col.close()


def _topic_payload(msg: Any) -> tuple[str, bytes]:
    return msg.topic, msg.payload


def test_hub_service_publishes_its_discovery(broker: Any, tmp_path: Path, clock: Any) -> None:
    """``hub.service.start_ingest`` (what ``venue hub`` runs) attaches the hub's discovery."""
    from hub.config import HubConfig
    from hub.service import start_ingest
    from tests.hub.hubkit import make_db
    from venue.config import load_config

    cfg = load_config(HubConfig, None, env={}, overrides={
        "device.site": "s1", "device.id": "h1", "device.data_dir": str(tmp_path / "hub"),
        "mqtt.url": broker.url})
    db = make_db(f"sqlite:///{tmp_path / 'hub.sqlite3'}", clock)
    col = Collector(broker.port, "homeassistant/device/+/config")
    col.wait_subscribed()
    link, ingest = start_ingest(cfg, db, clock=clock)
    try:
        body = ha_check(*_topic_payload(_discovery(col, "h1")[0]))
        assert body["availability_topic"] == "venue/v1/s1/hub/h1/status"
        assert body["device"]["identifiers"] == ["venue_s1_hub_h1"]
        col.publish(ha.HA_STATUS, b"online")
        _discovery(col, "h1", 2)
    finally:
        ingest.stop()
        link.stop()
        col.close()
