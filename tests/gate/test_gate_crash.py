"""``kill -9`` of the gate between decision and relay pulse (named fault-injection points that
SIGKILL the real daemon), then a restart: no opening without its record, nothing uploaded twice,
and admissions nobody used are annulled at the hub.
"""

from __future__ import annotations

import signal
import sqlite3
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from gatekit import GateProc, HubProc, gate_toml, pulses
from helpers_mqtt import wait_for
from test_gate_e2e import Watch

POINTS = ["before_record", "after_record", "after_pulse", "after_scan_put"]


@pytest.fixture
def watch(broker) -> Any:
    w = Watch(broker.port)
    yield w
    w.close()


@pytest.fixture
def hub(broker, tmp_path: Path) -> Any:
    h = HubProc(tmp_path, broker.url)
    h.start()
    yield h
    h.stop()


def journal_rows(data_dir: Path) -> list[dict[str, Any]]:
    db = sqlite3.connect(data_dir / "gate-journal.db")
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM redemptions ORDER BY seq")]
    finally:
        db.close()


def one_id_per_nonce(watch: Watch, device: str, type_: str = "gate.scan") -> dict[str, str]:
    ids: dict[str, set[str]] = defaultdict(set)
    for ev in watch.events(type_, device):
        ids[ev.data["nonce"]].add(ev.id)
    assert all(len(v) == 1 for v in ids.values()), f"a {type_} was uploaded twice: {dict(ids)}"
    return {n: next(iter(v)) for n, v in ids.items()}


def _gate(tmp_path: Path, device: str, broker: Any, hub: HubProc, token: str) -> tuple[Path, Path]:
    data = tmp_path / device
    cfg = gate_toml(tmp_path / f"{device}.toml", device=device, data_dir=data,
                    mqtt_url=broker.url, hub_url=hub.url, token=token,
                    trace=tmp_path / f"pins-{device}.log")
    return cfg, data


def test_kill_9_at_each_point_online(broker, hub, watch, tmp_path: Path) -> None:
    s = hub.series(name="Crash", issue_count=len(POINTS))
    for point, issued in zip(POINTS, s["codes"], strict=True):
        device = f"g-{point.replace('_', '-')}"
        cfg, data = _gate(tmp_path, device, broker, hub, hub.token(device))
        trace = tmp_path / f"pins-{device}.log"
        gate = GateProc(cfg, tmp_path, fault=point)
        try:
            wait_for(lambda d=device: watch.online(d), 20, f"{device} online")
            gate.send(issued["code"])
            assert gate.wait_killed() == -signal.SIGKILL, gate.log()
        finally:
            gate.stop()
        rows = journal_rows(data)
        assert len(rows) == 1, rows
        row = rows[0]
        # No opening without its record: the relay can only have moved if the decision is on disk.
        if row["state"] == "intent":
            assert point == "before_record" and pulses(trace) == 0
        else:
            assert (row["result"], row["offline"]) == ("admit", 0)
            assert pulses(trace) <= 1
            if point == "after_record":
                assert pulses(trace) == 0
        if point != "before_record":
            assert hub.code(issued["ref"])["entries_used"] == 1  # the hub admitted it online
        # Restart without the fault: what nobody used is annulled, events handed exactly once.
        again = GateProc(cfg, tmp_path)
        try:
            wait_for(lambda i=issued: hub.code(i["ref"])["entries_used"] == 0, 20,
                     f"{point}: admission annulled at the hub")
            attempts = hub.code(issued["ref"])["attempts"]
            assert len(attempts) == 1 and attempts[0]["annulled_at"] is not None, attempts
            assert attempts[0]["nonce"] == row["nonce"]
            if point != "before_record":
                wait_for(lambda d=device: watch.scans(d), 10, f"{point}: gate.scan")
                passage = wait_for(lambda d=device: watch.events("gate.passage", d), 10,
                                   f"{point}: gate.passage")
                assert passage[0].data["annulled"] is True
                assert passage[0].data["passed"] is False
            final = journal_rows(data)[0]
            assert final["state"] in ("done", "void")
            assert final["scan_queued"] == (0 if point == "before_record" else 1)
        finally:
            again.stop()
        scans = one_id_per_nonce(watch, device)
        assert list(scans) == ([] if point == "before_record" else [row["nonce"]])
        # a scan's event id is its nonce, so a repeated hand-off could not hide under a new id
        assert all(n == i for n, i in scans.items())
        one_id_per_nonce(watch, device, "gate.passage")


def test_kill_9_offline_admission_is_annulled_and_uploaded_once(
    broker, hub, watch, tmp_path: Path
) -> None:
    s = hub.series(name="CrashOffline", issue_count=1)
    issued = s["codes"][0]
    device = "g-off"
    cfg, data = _gate(tmp_path, device, broker, hub, hub.token(device))
    trace = tmp_path / f"pins-{device}.log"
    first = GateProc(cfg, tmp_path)
    try:
        wait_for(lambda: watch.online(device), 20, "gate online")
        wait_for(lambda: watch.command(device, "ping")["data"]["replica_refreshes"] >= 1, 10,
                 "replica synced")
    finally:
        first.stop()
    hub.kill()
    crashing = GateProc(cfg, tmp_path, fault="after_pulse")
    try:
        wait_for(lambda: watch.online(device), 20, "gate online again")
        crashing.send(issued["code"])
        assert crashing.wait_killed() == -signal.SIGKILL, crashing.log()
    finally:
        crashing.stop()
    row = journal_rows(data)[0]
    assert (row["result"], row["offline"], row["state"]) == ("admit", 1, "decided")
    assert pulses(trace) <= 1
    restarted = GateProc(cfg, tmp_path)
    try:
        passage = wait_for(lambda: watch.events("gate.passage", device), 20, "offline annulment")
        assert passage[0].data == {"nonce": row["nonce"], "ref": issued["ref"], "direction": "in",
                                   "passed": False, "annulled": True, "offline": True}
        scan = wait_for(lambda: watch.scans(device), 10, "gate.scan")[0]
        assert (scan["result"], scan["offline"], scan["nonce"]) == ("admit", True, row["nonce"])
        hub.start()
        # The hub applies the offline admission and its annulment, once each.
        wait_for(lambda: hub.code(issued["ref"])["attempts"]
                 and hub.code(issued["ref"])["attempts"][0]["annulled_at"] is not None, 20,
                 "offline admission applied and annulled at the hub")
        info = hub.code(issued["ref"])
        assert info["entries_used"] == 0 and len(info["attempts"]) == 1
        # The ticket is usable again, online.
        restarted.send(issued["code"])
        after = wait_for(lambda: len(watch.scans(device)) >= 2 and watch.scans(device), 15,
                         "second scan")[1]
        assert (after["result"], after["offline"]) == ("admit", False)
    finally:
        restarted.stop()
    one_id_per_nonce(watch, device)
    one_id_per_nonce(watch, device, "gate.passage")


def test_kill_9_from_outside_at_random_times(broker, hub, watch, tmp_path: Path) -> None:
    """Repeatedly SIGKILL the daemon mid-stream at random moments, then let it recover."""
    import random
    import time

    rng = random.Random(20261124)
    s = hub.series(name="Random", issue_count=15)
    codes = [c["code"] for c in s["codes"]]
    refs = [c["ref"] for c in s["codes"]]
    device = "g-rand"
    cfg, data = _gate(tmp_path, device, broker, hub, hub.token(device))
    trace = tmp_path / f"pins-{device}.log"
    for round_ in range(4):
        gate = GateProc(cfg, tmp_path)
        try:
            wait_for(lambda: watch.online(device), 20, "online")
            batch = [*codes[round_ * 3 : round_ * 3 + 3], codes[0]]  # a re-used one too
            gate.send(*batch)
            time.sleep(rng.uniform(0.0, 0.12))
            gate.proc.kill()
            gate.proc.wait(10)
            rows = [r for r in journal_rows(data) if r["state"] not in ("intent", "void")]
            # No opening without its record, at any moment of any round.
            assert pulses(trace) <= sum(1 for r in rows if r["result"] == "admit")
        finally:
            gate.stop()
    final = GateProc(cfg, tmp_path)
    try:
        def settled() -> bool:
            rows = journal_rows(data)
            return all(r["scan_queued"] or r["state"] == "void" for r in rows) and all(
                r["passage_queued"] for r in rows if r["result"] == "admit") and all(
                not r["hub_annul_pending"] for r in rows)

        wait_for(settled, 20, "journal settled and handed")
        rows = journal_rows(data)
        decided = [r for r in rows if r["state"] not in ("intent", "void")]
        assert pulses(trace) <= sum(1 for r in decided if r["result"] == "admit")
        wait_for(lambda: len(one_id_per_nonce(watch, device)) == len(decided), 20,
                 "every decision reported")
        assert set(one_id_per_nonce(watch, device)) == {r["nonce"] for r in decided}
        one_id_per_nonce(watch, device, "gate.passage")
        # The hub counts exactly the admissions the journal kept (annulled ones undone there).
        for ref in refs:
            kept = sum(1 for r in decided if r["ref"] == ref and r["result"] == "admit"
                       and not r["annulled"])
            assert hub.code(ref)["entries_used"] == kept, (ref, hub.code(ref))
    finally:
        final.stop()


def test_kill_9_after_passage_hand_off_keeps_the_passage_once(
    broker, hub, watch, tmp_path: Path
) -> None:
    """Killed between handing ``gate.passage`` to the outbox and marking it: not sent twice."""
    s = hub.series(name="CrashPassage", issue_count=1)
    issued = s["codes"][0]
    device = "g-passage"
    cfg, data = _gate(tmp_path, device, broker, hub, hub.token(device))
    gate = GateProc(cfg, tmp_path, fault="after_passage_put")
    try:
        wait_for(lambda: watch.online(device), 20, "online")
        gate.send(issued["code"])
        assert gate.wait_killed() == -signal.SIGKILL, gate.log()
    finally:
        gate.stop()
    row = journal_rows(data)[0]
    assert (row["result"], row["state"], row["passed"], row["passage_queued"]) == (
        "admit", "done", 1, 0)
    assert pulses(tmp_path / f"pins-{device}.log") == 1  # it really opened, and it is recorded
    again = GateProc(cfg, tmp_path)
    try:
        wait_for(lambda: journal_rows(data)[0]["passage_queued"] == 1, 20, "passage marked")
        passage = wait_for(lambda: watch.events("gate.passage", device), 10, "gate.passage")
        assert passage[0].data["passed"] is True and passage[0].data["annulled"] is False
        assert watch.command(device, "ping")["ok"]  # running, and the outbox drained
    finally:
        again.stop()
    one_id_per_nonce(watch, device)
    one_id_per_nonce(watch, device, "gate.passage")
    assert hub.code(issued["ref"])["entries_used"] == 1  # a real passage is never annulled
