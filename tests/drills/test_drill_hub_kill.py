"""Drill: ``kill -9`` of the hub during redemptions and during MQTT ingest, then a restart.

Redemptions: client threads post every ticket twice (two gates racing) while the hub is killed
twice; whatever did not get an answer is posted again with the same nonce once the hub is back.
Afterwards the ledger holds exactly one row per nonce, every answer a client received is the row's
answer (nothing answered was lost), and every ticket was admitted exactly once.

Ingest: a gate's MQTT link uploads a stream of offline admissions (and a few events sent twice
under the same id, as a broker redelivers) while the hub is killed mid-ingest. Afterwards every
event is stored once and every offline admission is one ledger row. Both on SQLite and on
PostgreSQL; the SQLite file passes ``PRAGMA integrity_check``.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import requests
from drillkit import integrity, persistent_conf, sql, wait_until
from gatekit import ADMIN, HubProc

from venue.config import MqttSection
from venue.ids import new_id
from venue.messages import rfc3339
from venue.mqtt import MqttLink
from venue.outbox import Outbox
from venue.topics import DeviceRef

TICKETS = 150
EVENTS = 1500


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def hub(broker_factory: Any, tmp_path: Path, db_url: str) -> Iterator[HubProc]:
    broker = broker_factory(persistent_conf(tmp_path))
    h = HubProc(tmp_path, broker.url)
    h.db = db_url
    h.broker = broker  # type: ignore[attr-defined]
    h.start()
    yield h
    h.stop()
    if db_url.startswith("sqlite"):
        assert integrity(Path(db_url.removeprefix("sqlite:///"))) == "ok"


class Clients:
    """Threads posting redemptions; an unanswered request is posted again, same nonce."""

    def __init__(self, url: str, codes: list[str], threads: int = 4) -> None:
        self.url = f"{url}/api/v1/redemptions"
        rng = random.Random(11)
        self.todo = [(new_id(), code, gate) for code in codes for gate in ("ga", "gb")]
        rng.shuffle(self.todo)
        self.answers: dict[str, dict[str, Any]] = {}
        self.errors = 0
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i, threads))
                         for i in range(threads)]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def join(self) -> None:
        for t in self._threads:
            t.join(180)
            assert not t.is_alive()

    def _run(self, k: int, n: int) -> None:
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {ADMIN}"
        mine = self.todo[k::n]
        deadline = time.monotonic() + 150
        while mine and time.monotonic() < deadline:
            nonce, code, gate = mine[0]
            body = {"code": code, "gate": gate, "direction": "in", "nonce": nonce,
                    "mode": "redeem"}
            try:
                r = http.post(self.url, json=body, timeout=5)
                ok = r.status_code == 200
            except requests.RequestException:
                ok = False
            if not ok:
                with self._lock:
                    self.errors += 1
                time.sleep(0.05)  # the hub is away: try the same nonce again shortly
                continue
            with self._lock:
                self.answers[nonce] = r.json()
            mine.pop(0)


def answered(clients: Clients, fraction: float) -> bool:
    return len(clients.answers) >= fraction * len(clients.todo)


def test_hub_kill_9_during_redemptions(hub: HubProc) -> None:
    series = hub.series(name="Kill", issue_limit=TICKETS, issue_count=TICKETS)
    clients = Clients(hub.url, [c["code"] for c in series["codes"]])
    clients.start()
    for fraction in (0.25, 0.6):
        wait_until(partial(answered, clients, fraction), 120, "redemptions to go on")
        hub.kill()
        hub.start()
    clients.join()
    assert len(clients.answers) == len(clients.todo)
    assert clients.errors > 0  # the kills really hit requests in flight

    rows = sql(hub.db, "SELECT nonce, result, reason, answer FROM redemptions")
    by_nonce: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        by_nonce.setdefault(row[0], []).append(row)
    assert set(by_nonce) == set(clients.answers), "a ledger row lost, or one nobody asked for"
    assert all(len(v) == 1 for v in by_nonce.values()), "a doubled ledger row"
    for nonce, answer in clients.answers.items():
        (_, result, reason, _) = by_nonce[nonce][0]
        assert (result, reason) == (answer["result"], answer["reason"]), nonce
    # Each ticket was scanned by two gates: admitted exactly once, the other already_used.
    admits = [a for a in clients.answers.values() if a["result"] == "admit"]
    assert len(admits) == TICKETS
    assert {a["ticket"]["ref"] for a in admits} == {c["ref"] for c in series["codes"]}
    used = sql(hub.db, "SELECT entries_used FROM codes WHERE series_id = :s", s=series["id"])
    assert sorted(u[0] for u in used) == [1] * TICKETS
    # A retry after the restarts returns the first answer, and changes nothing.
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {ADMIN}"
    for nonce, code, gate in clients.todo[:20]:
        r = http.post(f"{hub.url}/api/v1/redemptions", timeout=10,
                      json={"code": code, "gate": gate, "direction": "in", "nonce": nonce})
        assert r.json()["result"] == clients.answers[nonce]["result"]
    assert len(sql(hub.db, "SELECT id FROM redemptions")) == len(clients.todo)


def test_hub_kill_9_during_ingest(hub: HubProc, tmp_path: Path) -> None:
    series = hub.series(name="Offline", issue_limit=EVENTS // 3, issue_count=EVENTS // 3)
    refs = [c["ref"] for c in series["codes"]]
    link = MqttLink(DeviceRef("s1", "gate", "g-off"),
                    MqttSection(url=hub.broker.url),  # type: ignore[attr-defined]
                    outbox=Outbox(tmp_path / "g-off-outbox.db", max_items=EVENTS * 2))
    link.start()
    assert link.wait_connected(10)
    ids: set[str] = set()
    nonces: dict[str, str] = {}
    now = rfc3339(datetime.now(UTC))
    try:
        for i in range(EVENTS):
            if i % 3 == 0:  # an offline admission of a fresh ticket
                ref = refs[i // 3]
                nonce = new_id()
                nonces[nonce] = ref
                ev = link.publish_event("gate.scan", {
                    "nonce": nonce, "result": "admit", "reason": "ok", "direction": "in",
                    "offline": True, "ticket": {"ref": ref, "series": series["id"]},
                    "latency_ms": 1.0, "scanned_at": now, "first_used_at": None,
                    "first_gate": None, "source": "stdin"})
            else:
                ev = link.publish_event("gate.scan", {
                    "nonce": new_id(), "result": "reject", "reason": "invalid",
                    "direction": "in", "offline": True, "ticket": None, "latency_ms": 1.0,
                    "scanned_at": now, "first_used_at": None, "first_gate": None,
                    "source": "stdin"})
            ids.add(ev.id)
            if i % 100 == 50:  # the broker delivers some events twice (same id)
                link.publish(link.ref.event("gate.scan"), ev.encode(), durable=True)

        def stored() -> int:
            return int(sql(hub.db, "SELECT COUNT(*) FROM events WHERE device = 'g-off'")[0][0])

        wait_until(lambda: stored() >= EVENTS // 5, 60, "ingest under way", every=0.01)
        hub.kill()
        assert stored() < EVENTS, "the kill came too late to hit the ingest"
        hub.start()
        try:
            wait_until(lambda: stored() >= EVENTS, 90, "every event stored", every=0.5)
        finally:
            print("stored", stored(), "of", EVENTS, "link", link.stats())
        assert link.wait_drained(30)
    finally:
        link.stop(timeout=2)
    rows = sql(hub.db, "SELECT id FROM events WHERE device = 'g-off'")
    assert {r[0] for r in rows} == ids and len(rows) == len(ids)
    ledger = sql(hub.db, "SELECT nonce, COUNT(*) FROM redemptions GROUP BY nonce")
    assert {n for n, _ in ledger} == set(nonces), "an offline admission lost or invented"
    assert all(c == 1 for _, c in ledger), "an offline admission applied twice"
    used = sql(hub.db, "SELECT entries_used FROM codes WHERE series_id = :s", s=series["id"])
    assert sorted(u[0] for u in used) == [1] * len(refs)
    assert sql(hub.db, "SELECT COUNT(*) FROM conflicts")[0][0] == 0
