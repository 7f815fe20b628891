"""Drill: ``kill -9`` of the gate at random points of its cycle, many times over.

tests/gate/test_gate_crash.py kills the daemon once at each named point; this drill repeats a
random mix — a failpoint picked at random with a random count (``after_pulse:2`` dies at the
second pulse), or a SIGKILL from outside after a random delay — while the link to the hub is
randomly healthy or silent (a fault proxy in between), so crashes hit online and offline
decisions alike. After every kill: the relay never moved more often than the journal holds
admissions, and every SQLite file of the gate passes ``PRAGMA integrity_check`` (a kill at a
random point is the power-loss drill of the gate's files). At the end, after a clean restart:
every decision was uploaded exactly once (one event id per nonce), and the hub counts exactly
the admissions the journal kept.
"""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from drillkit import LONG_DRILLS, Events, integrity, journal_rows, sqlite_files, wait_until
from faultproxy import FaultProxy
from gatekit import GateProc, HubProc, gate_toml, pulses

from gate.faults import POINTS

ROUNDS = 30 if LONG_DRILLS else 6
TIME_LIMIT_S = 240 if LONG_DRILLS else 60


@pytest.fixture
def hub(broker: Any, tmp_path: Path) -> Iterator[HubProc]:
    h = HubProc(tmp_path, broker.url)
    h.start()
    yield h
    h.stop()


def more_rows(data: Path, n: int) -> bool:
    return len(journal_rows(data)) > n


def test_gate_kill_9_at_random_points_repeatedly(broker: Any, hub: HubProc,
                                                 tmp_path: Path) -> None:
    rng = random.Random(20261124)
    events = Events(broker.port)
    proxy = FaultProxy(hub.port).start()
    series = hub.series(name="Random kills", issue_limit=3 * ROUNDS + 3,
                        issue_count=3 * ROUNDS + 3)
    codes = [c["code"] for c in series["codes"]]
    refs = [c["ref"] for c in series["codes"]]
    device = "g-kill"
    data = tmp_path / device
    trace = tmp_path / "pins.log"
    cfg = gate_toml(tmp_path / f"{device}.toml", device=device, data_dir=data,
                    mqtt_url=broker.url, hub_url=proxy.url, token=hub.token(device), trace=trace,
                    gate_extra="replica_max_age_s = 3600")
    started = time.monotonic()
    kinds: list[str] = []
    opened_before = admitted_before = 0
    try:
        for round_ in range(ROUNDS):
            if time.monotonic() - started > TIME_LIMIT_S:
                break
            proxy.set(rng.choice(["pass", "pass", "blackhole", "reset"]))
            fault = None
            if rng.random() < 0.7:
                fault = f"{rng.choice(POINTS)}:{rng.randint(1, 3)}"
            gate = GateProc(cfg, tmp_path, fault=fault)
            try:
                wait_until(lambda: events.online("gate", device), 30, "gate online")
                batch = [codes[3 * round_ + 1], codes[3 * round_ + 2], codes[0]]
                rows_before = len(journal_rows(data)) if data.exists() else 0
                gate.send(*batch)
                if fault is None:  # from outside, somewhere inside the batch's cycles
                    wait_until(partial(more_rows, data, rows_before), 20,
                               "the gate to start on the batch", every=0.005)
                try:
                    gate.proc.wait(rng.uniform(0.0, 0.3) if fault is None else 3.0)
                except Exception:  # still alive (or the failpoint was not reached): kill now
                    gate.proc.send_signal(signal.SIGKILL)
                    gate.proc.wait(10)
                kinds.append(fault or "external")
            finally:
                gate.stop()
            decided = [r for r in journal_rows(data) if r["state"] not in ("intent", "void")]
            admitted = sum(1 for r in decided if r["result"] == "admit")
            # Never an opening without its record, whatever the moment of the kill: counted per
            # round (one process life), so an unrecorded pulse cannot hide behind an earlier
            # round's record that never got its pulse.
            opened = pulses(trace)
            assert opened - opened_before <= admitted - admitted_before, (
                round_, fault, opened - opened_before, admitted - admitted_before)
            opened_before, admitted_before = opened, admitted
            for f in sqlite_files(data):
                assert integrity(f) == "ok", (round_, fault, f)
        assert len(kinds) >= min(ROUNDS, 5)

        proxy.set("pass")
        final = GateProc(cfg, tmp_path)
        try:
            def settled() -> bool:
                rows = journal_rows(data)
                return all(r["scan_queued"] or r["state"] == "void" for r in rows) and all(
                    r["passage_queued"] for r in rows if r["result"] == "admit") and not any(
                    r["hub_annul_pending"] for r in rows)

            wait_until(settled, 60, "journal settled and handed over")
            decided = [r for r in journal_rows(data) if r["state"] not in ("intent", "void")]
            want = {r["nonce"] for r in decided}
            wait_until(lambda: want <= set(events.ids_per_nonce(device)), 30,
                       "every decision reported")
            ids = events.ids_per_nonce(device)
            assert set(ids) == want, "a report of a decision the journal does not hold"
            assert all(len(v) == 1 for v in ids.values()), "a decision uploaded twice"
            passages = events.ids_per_nonce(device, "gate.passage")
            assert all(len(v) == 1 for v in passages.values()), "a passage uploaded twice"

            # The hub counts exactly the admissions the journal kept (offline ones uploaded,
            # annulled ones given back).
            def hub_agrees() -> bool:
                for ref in refs:
                    kept = sum(1 for r in decided if r["ref"] == ref and r["result"] == "admit"
                               and not r["annulled"])
                    if hub.code(ref)["entries_used"] != kept:
                        return False
                return True

            wait_until(hub_agrees, 30, "the hub to count what the journal kept", every=0.5)
        finally:
            final.stop()
        for f in sqlite_files(data):
            assert integrity(f) == "ok", f
    finally:
        proxy.stop()
        events.close()
    print("kills:", kinds)
