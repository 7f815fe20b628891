"""Exactly-once across two real ``venue hub`` processes on one PostgreSQL database.

(a) 100 concurrent redeems of one code, split across both replicas: one admit, 99 already_used.
(b) one offline admission event delivered to both replicas (the same event published ten times
    to the ``$share/hub`` group, which hands copies round-robin to both at once): applied once.
(c) a replica SIGKILLed while a gate's stream of offline admissions is being ingested (and some
    events are sent twice): after it restarts every event is applied exactly once.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import psycopg
import pytest
import requests

from loadsim.procs import Child, Replica, start_broker
from loadsim.seed import Admin
from venue.config import MqttSection
from venue.ids import new_id
from venue.messages import Event, rfc3339
from venue.mqtt import MqttLink
from venue.outbox import Outbox
from venue.topics import DeviceRef

pytestmark = pytest.mark.postgres


@dataclass
class Chain:
    broker: Child
    mqtt_url: str
    pg: str
    hubs: list[Replica]
    admin: Admin

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.pg, autocommit=True) as conn:
            return list(conn.execute(query, params))

    def codes(self, n: int) -> list[dict[str, Any]]:
        body = {"name": f"s{uuid.uuid4().hex[:6]}", "issue_limit": n, "issue_count": n}
        return list(self.admin.call("POST", "/series", json=body)["codes"])

    def token(self, role: str, device: str) -> str:
        return str(self.admin.call("POST", "/tokens", json={"role": role,
                                                           "device": device})["token"])


def wait(cond: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = cond()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def chain(pg_url: str, tmp_path: Path) -> Iterator[Chain]:
    # Every PUBLISH the broker sends is logged, so a test can see which replica got a copy.
    broker, mqtt_url = start_broker(tmp_path, "log_type all\nlog_dest stderr\n")
    hubs: list[Replica] = []
    try:
        for i in (1, 2):
            hub = Replica(i, tmp_path, pg_url, mqtt_url)
            hubs.append(hub)
            hub.start_and_wait()  # one after the other: the first migrates the fresh database
        plain = pg_url.replace("postgresql+psycopg://", "postgresql://")
        yield Chain(broker, mqtt_url, plain, hubs, Admin(hubs[0].url))
    finally:
        for h in hubs:
            h.stop()
        broker.stop()


def offline_scan(ref: str, series: int, nonce: str, device: str = "g1") -> Event:
    now = datetime.now(UTC)
    return Event.new("ls", device, "gate.scan", {
        "nonce": nonce, "result": "admit", "reason": "ok", "direction": "in", "offline": True,
        "ticket": {"ref": ref, "series": series}, "latency_ms": 1.0,
        "scanned_at": rfc3339(now), "source": "camera"}, when=now)


def publisher(url: str) -> paho.Client:
    host, port = url.removeprefix("mqtt://").split(":")
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}")
    c.connect(host, int(port))
    c.loop_start()
    return c


def test_100_concurrent_redeems_of_one_code_on_two_replicas_admit_once(chain: Chain) -> None:
    code = chain.codes(1)[0]
    tokens = [chain.token("gate", "ga"), chain.token("gate", "gb")]
    go = threading.Barrier(100)
    answers: list[dict[str, Any]] = []
    lock = threading.Lock()

    def redeem(i: int) -> None:
        side = i % 2
        body = {"code": code["code"], "gate": ("ga", "gb")[side], "direction": "in",
                "nonce": new_id(), "mode": "redeem"}
        with requests.Session() as http:
            http.headers["Authorization"] = f"Bearer {tokens[side]}"
            go.wait()
            r = http.post(chain.hubs[side].url + "/api/v1/redemptions", json=body, timeout=60)
        assert r.status_code == 200, r.text
        with lock:
            answers.append(r.json())

    threads = [threading.Thread(target=redeem, args=(i,)) for i in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert len(answers) == 100
    admits = [a for a in answers if a["result"] == "admit"]
    assert len(admits) == 1
    rejects = [a for a in answers if a["result"] == "reject"]
    assert {a["reason"] for a in rejects} == {"already_used"} and len(rejects) == 99
    assert all(a["first_gate"] == admits[0]["first_gate"] for a in rejects)
    assert chain.sql("SELECT result, count(*) FROM redemptions GROUP BY result "
                     "ORDER BY result") == [("admit", 1), ("reject", 99)]
    assert chain.sql("SELECT entries_used FROM codes WHERE ref = %s", code["ref"]) == [(1,)]


def test_the_same_offline_event_on_both_replicas_is_applied_once(chain: Chain) -> None:
    codes = chain.codes(5)
    series = int(codes[0]["ref"].split(":")[0])
    ev = offline_scan(codes[0]["ref"], series, nonce=new_id())
    topic = DeviceRef("ls", "gate", "g1").event("gate.scan")
    pub = publisher(chain.mqtt_url)
    try:
        # Ten copies back to back: round-robin hands them to both replicas, which race on them.
        infos = [pub.publish(topic, ev.encode(), qos=1) for _ in range(10)]
        # Then distinct events: once every one is stored, each replica has worked through the
        # copies queued before them (a replica takes its messages in order).
        later = [offline_scan(c["ref"], series, nonce=new_id()) for c in codes[1:]]
        infos += [pub.publish(topic, e.encode(), qos=1) for e in later]
        for info in infos:
            info.wait_for_publish(10)
    finally:
        pub.loop_stop()
        pub.disconnect()
    ids = [ev.id] + [e.id for e in later]
    wait(lambda: chain.sql("SELECT count(*) FROM events WHERE id = ANY(%s)", ids) == [(5,)],
         30, "the events stored")
    sent_to = {line.split("Sending PUBLISH to ", 1)[1].split(" ", 1)[0]
               for line in chain.broker.log.read_text(errors="replace").splitlines()
               if "Sending PUBLISH to hub-ls-" in line and topic in line}
    assert sent_to == {"hub-ls-hub1", "hub-ls-hub2"}  # both replicas were handed copies
    assert chain.sql("SELECT count(*) FROM redemptions WHERE nonce = %s",
                     ev.data["nonce"]) == [(1,)]
    assert chain.sql("SELECT count(*) FROM events WHERE id = %s", ev.id) == [(1,)]
    assert chain.sql("SELECT entries_used FROM codes WHERE ref = %s",
                     codes[0]["ref"]) == [(1,)]
    assert chain.sql("SELECT count(*) FROM conflicts") == [(0,)]  # no admission "twice"


def test_a_replica_killed_mid_stream_loses_and_doubles_nothing(
        chain: Chain, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    n = 400
    codes = chain.codes(n)
    series = int(codes[0]["ref"].split(":")[0])
    link = MqttLink(DeviceRef("ls", "gate", "g1"), MqttSection(url=chain.mqtt_url),
                    outbox=Outbox(tmp_path / "g1-outbox.sqlite3"))
    link.start()
    assert link.wait_connected(10)
    sent: list[Event] = []
    try:
        for i, c in enumerate(codes):
            sent.append(link.publish_event("gate.scan", offline_scan(
                c["ref"], series, nonce=f"n{i:04d}-{uuid.uuid4().hex[:8]}").data))
            if i == n // 2:
                chain.hubs[1].kill()  # SIGKILL while its share of the stream is in flight
        dupes = sent[::20]
        pub = publisher(chain.mqtt_url)
        for e in dupes:  # redelivered copies, as after a crash between commit and PUBACK
            pub.publish(link.ref.event("gate.scan"), e.encode(), qos=1).wait_for_publish(10)
        pub.loop_stop()
        pub.disconnect()
        assert link.wait_drained(30)
    finally:
        link.stop()
        link.outbox.close()
    ids = [e.id for e in sent]

    def stored() -> int:
        return int(chain.sql("SELECT count(*) FROM events WHERE id = ANY(%s)", ids)[0][0])

    time.sleep(2)
    while_down = stored()
    chain.hubs[1].start_and_wait()  # systemd would restart it; its session is redelivered
    wait(lambda: stored() == n, 60, "every event stored")
    with capsys.disabled():
        print(f"\n  replica kill: {while_down}/{n} events stored while hub2 was down, "
              f"{n} after it restarted")
    nonces = [str(e.data["nonce"]) for e in sent]
    rows = chain.sql("SELECT nonce, count(*) FROM redemptions WHERE nonce = ANY(%s) "
                     "GROUP BY nonce", nonces)
    assert len(rows) == n and all(count == 1 for _, count in rows)
    assert chain.sql("SELECT count(*), min(entries_used), max(entries_used) FROM codes "
                     "WHERE ref = ANY(%s)", [c["ref"] for c in codes]) == [(n, 1, 1)]
    assert chain.sql("SELECT count(*) FROM events") == chain.sql(
        "SELECT count(DISTINCT id) FROM events")
