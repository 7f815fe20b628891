"""`venue demo --headless`: the whole venue comes up, visitors are admitted, every device online.

The demo's broker is a venue's: per-device logins and ACLs, no anonymous clients. The monitor
gets in with the operator login the demo writes (``monitor.toml``), and is found with no
arguments from the folder the demo runs in.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest


def venue(*args: str) -> list[str]:
    return [sys.executable, "-m", "venue.cli", *args]


@pytest.mark.slow
def test_demo_comes_up_and_admits(tmp_path: Path) -> None:
    data = tmp_path / "var" / "demo"  # where `venue monitor` looks, from tmp_path
    proc = subprocess.Popen(
        venue("demo", "--headless", "--data-dir", str(data), "--visitors-per-minute", "240"),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 90
        snap: dict = {}
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            if (data / "monitor.toml").exists() and (data / "seed.json").exists():
                out = subprocess.run(
                    venue("monitor", "--once", "--json", "--wait", "1"),
                    capture_output=True, text=True, timeout=30, cwd=tmp_path,
                )
                if out.returncode == 0:
                    snap = json.loads(out.stdout)
                    gates = [d for d in snap["devices"] if d["role"] == "gate"]
                    if len(gates) == 2 and all(g["admits"] > 0 for g in gates):
                        break
            time.sleep(1)
        devices = {d["device"]: d for d in snap.get("devices", [])}
        names = ("hub", "gate-1", "gate-2", "beacon-1")
        assert set(names) <= set(devices), snap
        assert all(devices[n]["state"] == "online" for n in names)
        assert devices["gate-1"]["admits"] > 0 and devices["gate-2"]["admits"] > 0
        # `venue cmd` also finds the demo and its operator login by itself.
        cmd = subprocess.run(venue("cmd", "gate-1", "ping"), capture_output=True, text=True,
                             timeout=30, cwd=tmp_path)
        assert cmd.returncode == 0, cmd.stdout + cmd.stderr
        assert json.loads(cmd.stdout)["ok"] is True
        # Without the operator login the broker refuses the monitor.
        url = (data / "broker.url").read_text().strip()
        anon = subprocess.run(venue("monitor", "--mqtt", url, "--once", "--wait", "0"),
                              capture_output=True, text=True, timeout=30)
        assert anon.returncode == 1, anon.stdout + anon.stderr
        # The hub stored the devices' events (its login may read every device of the site).
        db = sqlite3.connect(data / "hub.sqlite")
        try:
            stored = db.execute("SELECT COUNT(*) FROM events WHERE type = 'gate.scan'").fetchone()
        finally:
            db.close()
        assert stored[0] > 0
        # Visitors were rewarded at the kiosk's counter: points in the loyalty ledger.
        db = sqlite3.connect(data / "hub.sqlite")
        try:
            rows = db.execute("SELECT COUNT(*) FROM loyalty_ledger").fetchone()
        finally:
            db.close()
        assert rows[0] > 0
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    assert proc.returncode == 0
    # The data stays for the next run, and the next run reuses the seed.
    seed = json.loads((data / "seed.json").read_text())
    assert len(seed["codes"]) == 500
    assert (data / "hub.sqlite").exists()
