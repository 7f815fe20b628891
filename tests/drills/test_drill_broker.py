"""Drill: the broker restarts (twice) during a burst of gate scans and beacon events.

A real gate daemon decides a stream of tickets while a beacon's MQTT link (the same
:class:`venue.mqtt.MqttLink` + durable outbox the beacon daemon uses) reports a burst of
``beacon.enter``/``beacon.exit`` events; Mosquitto is stopped and started again in the middle,
twice, each time long enough for paho's reconnect back-off to grow. Afterwards the hub's
database must hold every event exactly once: each id the devices made, and no other (a re-sent
event under a new id would be a double the hub cannot see).

An independent persistent subscriber (plain topic filter, bare paho) audits the broker's side.
What this drill found: with Mosquitto 2.0.11 the audit gets every event, but the hub loses the
ones published between the broker's restart and the hub's reconnect. The hub subscribes through
a *shared* subscription (``$share/hub/...``), and Mosquitto does not queue messages for a shared
subscription of a persistent session restored from its persistence file until that client
connects again (a plain subscription is queued; ``/tmp`` experiment in docs/operations.md). The
devices got their PUBACKs, so the events are gone. Fixed: a venue's single hub now subscribes
with a plain filter (hub.share_group empty); only replicas of a chain use ``$share``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from drillkit import Events, journal_rows, persistent_conf, sql, wait_until
from gatekit import GateProc, HubProc, gate_toml
from helpers_mqtt import Collector

from venue.config import MqttSection
from venue.messages import Event
from venue.mqtt import MqttLink
from venue.outbox import Outbox
from venue.topics import DeviceRef

BEACON_EVENTS = 3000
"""At most; the burst goes on until after the second restart."""
SCANS = 30


@pytest.fixture
def pbroker(broker_factory: Any, tmp_path: Path) -> Any:
    return broker_factory(persistent_conf(tmp_path))


@pytest.fixture
def hub(pbroker: Any, tmp_path: Path) -> Iterator[HubProc]:
    h = HubProc(tmp_path, pbroker.url)
    h.start()
    yield h
    h.stop()


def grown(items: list[str], n: int) -> bool:
    return len(items) >= n


class Scenario:
    """Run the burst with two broker restarts; keep what each side saw."""

    def __init__(self, broker: Any, hub: HubProc, tmp_path: Path) -> None:
        self.broker, self.hub, self.tmp = broker, hub, tmp_path
        self.audit = Collector(broker.port, "venue/v1/s1/+/+/event/#", client_id="audit",
                               clean=False)
        self.audit.wait_subscribed()
        self.gate_data = tmp_path / "g-burst"
        self.beacon_ids: list[str] = []
        self.want: dict[tuple[str, str], set[str]] = {}
        self.decided: list[dict[str, Any]] = []
        self.gate: GateProc | None = None

    def run(self) -> None:
        series = self.hub.series(name="Burst", issue_count=SCANS)
        codes = [c["code"] for c in series["codes"]]
        events = Events(self.broker.port)
        cfg = gate_toml(self.tmp / "g-burst.toml", device="g-burst", data_dir=self.gate_data,
                        mqtt_url=self.broker.url, hub_url=self.hub.url,
                        token=self.hub.token("g-burst"), trace=self.tmp / "pins.log")
        gate = self.gate = GateProc(cfg, self.tmp)
        beacon = MqttLink(DeviceRef("s1", "beacon", "b-burst"), MqttSection(url=self.broker.url),
                          outbox=Outbox(self.tmp / "beacon-outbox.db"), reconnect_delay=(0.1, 0.2))
        try:
            beacon.start()
            wait_until(lambda: events.online("gate", "g-burst"), 30, "gate online")
            assert beacon.wait_connected(10)

            stop = threading.Event()

            def beacon_burst() -> None:
                for i in range(BEACON_EVENTS):
                    if stop.is_set():
                        break
                    kind = "beacon.enter" if i % 2 == 0 else "beacon.exit"
                    ev = beacon.publish_event(kind, {"uuid": "drill", "major": i, "minor": i % 7,
                                                     "scanner": "b-burst", "dwell_s": 1.0})
                    self.beacon_ids.append(ev.id)
                    time.sleep(0.01)

            def gate_burst() -> None:
                for i, code in enumerate(codes):
                    gate.send(code, *([codes[0]] if i % 9 == 8 else []))  # a re-used one too
                    time.sleep(0.1)

            threads = [threading.Thread(target=beacon_burst), threading.Thread(target=gate_burst)]
            for t in threads:
                t.start()
            for _ in range(2):
                wait_until(partial(grown, self.beacon_ids, len(self.beacon_ids) + 60), 60,
                           "the burst to go on")
                self.broker.stop()
                time.sleep(4.5)  # an outage, long enough for the hub's back-off to reach 4 s
                self.broker.start()
            wait_until(partial(grown, self.beacon_ids, len(self.beacon_ids) + 60), 60,
                       "the burst to go on after the restarts")
            stop.set()
            for t in threads:
                t.join(120)

            def settled() -> bool:
                rows = journal_rows(self.gate_data)
                done = [r for r in rows if r["state"] != "intent"]
                return len(done) >= SCANS and all(r["scan_queued"] for r in done) and all(
                    r["passage_queued"] for r in done if r["result"] == "admit")

            wait_until(settled, 60, "the gate to decide and hand over every scan")
            assert beacon.wait_drained(30), beacon.stats()
        finally:
            beacon.stop(timeout=2)
            events.close()
        self.decided = [r for r in journal_rows(self.gate_data) if r["state"] != "intent"]
        ids = self.beacon_ids
        self.want = {
            ("b-burst", "beacon.enter"): {b for i, b in enumerate(ids) if i % 2 == 0},
            ("b-burst", "beacon.exit"): {b for i, b in enumerate(ids) if i % 2 == 1},
            ("g-burst", "gate.scan"): {r["nonce"] for r in self.decided},
            ("g-burst", "gate.passage"): {r["passage_event_id"] for r in self.decided
                                          if r["result"] == "admit"},
        }

    def audited(self) -> dict[tuple[str, str], set[str]]:
        out: dict[tuple[str, str], set[str]] = {}
        for m in self.audit.all():
            ev = Event.decode(m.payload)
            out.setdefault((ev.device, ev.type), set()).add(ev.id)
        return out

    def stored(self) -> dict[tuple[str, str], set[str]]:
        out: dict[tuple[str, str], set[str]] = {}
        for ev_id, device, type_ in sql(self.hub.db, "SELECT id, device, type FROM events"):
            out.setdefault((device, type_), set()).add(ev_id)
        return out

    def complete(self, have: dict[tuple[str, str], set[str]]) -> bool:
        return all(self.want[k] <= have.get(k, set()) for k in self.want)

    def close(self) -> None:
        """The gate runs until the checks are done: stopping it earlier strands its outbox."""
        if self.gate is not None:
            self.gate.stop()
        self.audit.close()


@pytest.fixture
def scenario(pbroker: Any, hub: HubProc, tmp_path: Path) -> Iterator[Scenario]:
    s = Scenario(pbroker, hub, tmp_path)
    try:
        s.run()
        yield s
    finally:
        s.close()


def test_broker_restart_devices_deliver_every_event_once(scenario: Scenario) -> None:
    """The devices' side: every event reached the broker under its one id, and no other id."""
    s = scenario
    try:
        wait_until(lambda: s.complete(s.audited()), 30, "the audit subscriber to see every event")
    finally:
        audited = s.audited()
        print("missing at the audit:", {k: sorted(s.want[k] - audited.get(k, set()))[:3]
                                        for k in s.want},
              "of", {k: len(v) for k, v in s.want.items()})
    for key, ids in s.want.items():
        assert audited[key] == ids, (key, len(audited[key] - ids), len(ids - audited[key]))
    # Whatever the hub stored is a subset: never an id the devices did not make.
    for key, ids in s.stored().items():
        assert ids <= s.want.get(key, set()), key
    # The online redemptions behind the scans: one ledger row per nonce.
    ledger = dict(sql(s.hub.db, "SELECT nonce, COUNT(*) FROM redemptions GROUP BY nonce"))
    assert {r["nonce"] for r in s.decided} <= set(ledger)
    assert set(ledger.values()) == {1}
    assert len([r for r in s.decided if r["result"] == "admit"]) == SCANS


@pytest.mark.drill
def test_broker_restart_hub_stores_every_event_once(scenario: Scenario) -> None:
    s = scenario
    try:
        wait_until(lambda: s.complete(s.stored()), 30, "every event stored at the hub", every=0.5)
    finally:
        have = s.stored()
        missing = {k: len(s.want[k] - have.get(k, set())) for k in s.want}
        print("missing at the hub:", missing, "of", {k: len(v) for k, v in s.want.items()})
    have = s.stored()
    for key, ids in s.want.items():
        assert have[key] == ids, key
