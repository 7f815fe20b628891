"""``venue loadsim``: a small real run with a replica killed ends by itself with nothing lost or
doubled; non-loopback targets are refused; the audit and the percentiles are right on plain data."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from loadsim.audit import Stored, compare
from loadsim.procs import LoadsimError, require_loopback
from loadsim.record import Sent
from loadsim.report import percentile


@pytest.mark.postgres
def test_small_run_with_a_killed_replica_loses_and_doubles_nothing(pg_url: str) -> None:
    admin = pg_url.replace("postgresql+psycopg://", "postgresql://")
    proc = subprocess.run(
        [sys.executable, "-m", "venue.cli", "loadsim", "--gates", "4", "--scans-per-min", "60",
         "--duration", "10", "--kiosks", "2", "--beacons", "2", "--phones", "10",
         "--replicas", "2", "--kill-replica", "--restart-after", "1", "--pg", admin,
         "--deadline", "150", "--json"],
        capture_output=True, text=True, timeout=200)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    fig = json.loads(proc.stdout.strip().splitlines()[-1])
    audit = fig["audit"]
    assert audit["lost"] == 0 and audit["doubled"] == 0 and audit["answer_mismatch"] == 0
    assert fig["kill"]["replica"] == "hub2" and fig["ok"] is True
    assert fig["scan_ms"]["p99"] is not None and fig["scan_ms"]["n"] > 10
    assert fig["admitted_online"] > 0 and fig["events"] > fig["scan_ms"]["n"]
    assert fig["ledger_rows"] > 0  # kiosk and beacon visits were credited and audited
    assert set(fig["cpu_s"]) >= {"hub1", "hub2", "broker", "postgres", "loadsim"}
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:  # the run's database was dropped
        assert conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s",
                            (fig["database"],)).fetchone() == (0,)


@pytest.mark.postgres
def test_gates_that_give_up_on_the_hub_decide_locally_and_nothing_is_lost(pg_url: str) -> None:
    """A 1 ms budget: nearly every scan is decided by the gate while its request goes on; the
    upload and the late request share the nonce, so each admission is stored once."""
    admin = pg_url.replace("postgresql+psycopg://", "postgresql://")
    proc = subprocess.run(
        [sys.executable, "-m", "venue.cli", "loadsim", "--gates", "4", "--scans-per-min", "120",
         "--duration", "5", "--kiosks", "0", "--beacons", "0", "--replicas", "1",
         "--gate-budget-ms", "1", "--pg", admin, "--deadline", "120", "--json"],
        capture_output=True, text=True, timeout=150)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    fig = json.loads(proc.stdout.strip().splitlines()[-1])
    assert fig["decided_locally"] > 0 and fig["admitted_offline"] >= fig["decided_locally"] // 2
    assert fig["audit"]["lost"] == 0 and fig["audit"]["doubled"] == 0


def test_a_single_sqlite_hub_killed_mid_run_loses_and_doubles_nothing() -> None:
    """One venue's setup (no PostgreSQL needed): its one hub killed and restarted mid-run."""
    proc = subprocess.run(
        [sys.executable, "-m", "venue.cli", "loadsim", "--sqlite", "--replicas", "1", "--gates",
         "3", "--scans-per-min", "60", "--duration", "6", "--kiosks", "1", "--beacons", "1",
         "--phones", "4", "--kill-replica", "--restart-after", "0.5", "--deadline", "120",
         "--json"], capture_output=True, text=True, timeout=150)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    fig = json.loads(proc.stdout.strip().splitlines()[-1])
    assert fig["plan"]["sqlite"] is True and fig["kill"]["replica"] == "hub1"
    assert fig["audit"]["lost"] == 0 and fig["audit"]["doubled"] == 0
    assert fig["failovers"] > 0 and "postgres" not in fig["cpu_s"]


@pytest.mark.parametrize("args", [["--pg", "postgresql://postgres@10.1.2.3:5432/postgres"],
                                  ["--broker", "mqtt://broker.example:1883"]])
def test_non_loopback_targets_are_refused(args: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-m", "venue.cli", "loadsim", "--duration", "1",
                           *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "loopback" in proc.stderr


def test_require_loopback() -> None:
    assert require_loopback("mqtt://127.0.0.1:1883", "b") == "mqtt://127.0.0.1:1883"
    assert require_loopback("postgresql://u@localhost/x", "pg")
    assert require_loopback("http://[::1]:8080", "h")
    with pytest.raises(LoadsimError):
        require_loopback("postgresql://u@192.168.1.10/x", "pg")


def test_audit_counts_lost_doubled_and_mismatched_rows() -> None:
    sent = Sent(nonces={"n1": "1:1", "n2": "1:2", "n3": "1:3", "n4": "1:1"},
                expected={"n1": "admit", "n4": "reject"},
                answers={"n1": ("admit", "ok"), "n4": ("reject", "already_used")},
                offline={"n2", "n3"}, events={"e1", "e2"}, ledger_keys={"k1", "k2"})
    clean = Stored(redemptions={"n1": 1, "n2": 1, "n3": 1, "n4": 1},
                   results={"n1": ("admit", "ok"), "n2": ("admit", "ok"), "n3": ("admit", "ok"),
                            "n4": ("reject", "already_used")},
                   admits_per_ref={"1:1": 1, "1:2": 1, "1:3": 1},
                   events={"e1": 1, "e2": 1}, ledger={"k1": 1, "k2": 1})
    a = compare(sent, clean)
    assert (a.lost, a.doubled, a.answer_mismatch, a.offline_rejected) == (0, 0, 0, 0)
    bad = Stored(redemptions={"n1": 1, "n2": 2, "n4": 1},
                 results={"n1": ("reject", "already_used"), "n2": ("admit", "already_used"),
                          "n4": ("reject", "already_used")},
                 admits_per_ref={"1:1": 2}, events={"e1": 1}, ledger={"k1": 3})
    b = compare(sent, bad)
    assert (b.lost_redemptions, b.doubled_redemptions) == (1, 1)
    assert (b.lost_events, b.lost_ledger, b.doubled_ledger) == (1, 1, 2)
    assert b.doubled_admissions == 1 and b.answer_mismatch == 1 and b.offline_rejected == 1


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert [percentile(values, q) for q in (50, 95, 99, 100)] == [50, 95, 99, 100]
    assert percentile([7.0], 99) == 7.0 and percentile([], 50) is None
