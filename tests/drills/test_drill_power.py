"""Drill: a device loses power (``kill -9``) at random points while writing its SQLite files.

A child process writes as the gate does — journal records (``synchronous=FULL``), outbox puts and
acks, replica refreshes — and prints what each call promised once it returned. It is killed at a
random moment, again and again on the same files. After each kill every file passes
``PRAGMA integrity_check`` and every promise holds: a journal record that returned is there, an
outbox item that returned and was not acked is still queued. (The hub's SQLite file gets the
same check in test_drill_hub_kill; the gate's files, under the real daemon, in
test_drill_gate_kill.) ``kill -9`` keeps the kernel's page cache, so this proves the files are
never corrupted and the process-crash promises; the fsync that covers a real power cut is
asserted by the journal's and the outbox's own tests of their ``synchronous`` settings.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from drillkit import LONG_DRILLS, integrity
from gatekit import Issuer

KILLS = 25 if LONG_DRILLS else 8

WRITER = r"""
import json, sys, time
from pathlib import Path
from gate.journal import Entry, Journal
from gate.replica import ReplicaStore
from venue.outbox import Outbox
sys.path.insert(0, sys.argv[2])
from gatekit import Issuer

d = Path(sys.argv[1])
journal = Journal(d / "gate-journal.db")
outbox = Outbox(d / "gate-outbox.db")
replica = ReplicaStore(d / "gate-replica.db")
body = Issuer().replica()
body["codes"] = [{"ref": f"7:{i}", "status": "revoked"} for i in range(300)]
i = 0
while True:
    i += 1
    nonce = f"{sys.argv[3]}-{i}"
    journal.record(Entry(nonce=nonce, scanned_at="2026-01-01T12:00:00Z", source="stdin",
                         direction="in", result="admit", reason="ok", offline=True,
                         ref=f"7:{i}", series=7))
    print("J", nonce, flush=True)
    seq = outbox.put("venue/v1/s1/gate/g1/event/gate.scan", nonce.encode() * 20)
    print("O", seq, flush=True)
    if i % 3 == 0:
        print("a", seq, flush=True)  # from here on the item may be gone (an ack in flight)
        outbox.ack(seq)
        print("A", seq, flush=True)
    if i % 10 == 0:
        replica.apply(body)
        replica.mark_synced(__import__("datetime").datetime.now(__import__("datetime").UTC))
        print("R", i, flush=True)
"""


def test_sqlite_files_survive_kills_at_random_points(tmp_path: Path) -> None:
    rng = random.Random(7)
    gate_tests = str(Path(__file__).resolve().parents[1] / "gate")
    Issuer()  # the writer builds its replica with the same helper
    journaled: set[str] = set()
    queued: set[int] = set()
    for life in range(KILLS):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path), gate_tests, f"life{life}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        # Kill after a random number of promises, so the kill lands inside a write.
        target = rng.randint(5, 120)
        deadline = time.monotonic() + 60
        lines: list[str] = []
        while len(lines) < target and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
        time.sleep(rng.uniform(0, 0.01))
        proc.send_signal(signal.SIGKILL)
        # Read the rest through the same buffered reader: communicate() would read the pipe's
        # descriptor directly and drop lines readline() had already buffered (a lost "ack" line
        # looked like a lost outbox item).
        assert proc.stdout is not None and proc.stderr is not None
        lines += proc.stdout.readlines()
        err = proc.stderr.read()
        proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()
        assert len(lines) >= target, err[-2000:]
        for line in lines:
            if not line.endswith("\n"):
                continue  # cut off by the kill: the promise was never fully made
            kind, _, value = line.strip().partition(" ")
            if kind == "J":
                journaled.add(value)
            elif kind == "O":
                queued.add(int(value))
            elif kind == "A":
                queued.discard(int(value))
        for name in ("gate-journal.db", "gate-outbox.db", "gate-replica.db"):
            if (tmp_path / name).exists():
                assert integrity(tmp_path / name) == "ok", (life, name)
        db = sqlite3.connect(tmp_path / "gate-journal.db")
        try:
            have = {r[0] for r in db.execute("SELECT nonce FROM redemptions")}
        finally:
            db.close()
        assert journaled <= have, f"life {life}: {len(journaled - have)} returned records lost"
        db = sqlite3.connect(tmp_path / "gate-outbox.db")
        try:
            left = {r[0] for r in db.execute("SELECT seq FROM outbox")}
        finally:
            db.close()
        assert queued <= left, f"life {life}: {len(queued - left)} queued items lost"
