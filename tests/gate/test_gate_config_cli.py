"""Gate config (the example file, typos, scanner lists) and ``venue gate test-io`` on mock pins."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gate.config import GateConfig
from venue.config import load_config
from venue.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_example_config_loads() -> None:
    cfg = load_config(GateConfig, REPO / "examples" / "gate.toml", env={})
    assert cfg.device.id == "gate1"
    assert [s.kind for s in cfg.scanners] == ["serial", "camera"]
    assert cfg.scanners[1].direction == "out"
    assert cfg.io.rotation_pin == 24 and cfg.decoder.order == ["zxing", "pyzbar"]


def test_single_scanner_table_and_typos(tmp_path: Path) -> None:
    p = tmp_path / "g.toml"
    p.write_text('[scanner]\nkind = "stdin"\n[io]\nrelay_pin = 5\n')
    cfg = load_config(GateConfig, p, env={})
    assert [s.kind for s in cfg.scanners] == ["stdin"] and cfg.io.relay_pin == 5
    p.write_text("[io]\nrelay_pinn = 5\n")
    with pytest.raises(ConfigError, match=r"io\.relay_pinn: unknown key"):
        load_config(GateConfig, p, env={})
    p.write_text('[scanner]\nkind = "serial"\n')
    with pytest.raises(ConfigError, match=r"scanner\.port"):
        load_config(GateConfig, p, env={})
    p.write_text("[decoder]\nroi = [0.5, 0.5, 2.0, 0.1]\n")
    with pytest.raises(ConfigError, match=r"decoder\.roi"):
        load_config(GateConfig, p, env={})
    cfg = load_config(GateConfig, None, env={"VENUE_GATE__BUDGET_MS": "400"})
    assert cfg.gate.budget_ms == 400


def test_test_io_pulses_outputs_on_mock_pins(tmp_path: Path) -> None:
    trace = tmp_path / "pins.log"
    p = tmp_path / "g.toml"
    p.write_text(f'[io]\npin_factory = "mock"\nmock_trace = "{trace}"\nrotation_pin = 24\n')
    out = subprocess.run(
        [sys.executable, "-m", "venue.cli", "gate", "test-io", "--config", str(p),
         "--watch", "0.1"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    for name in ("relay", "green", "red", "buzzer"):
        assert f"{name}: on" in out.stdout and f"{name}: off" in out.stdout
    assert "rotation (pin GPIO24)" in out.stdout
    lines = trace.read_text().splitlines()
    for pin in ("GPIO17", "GPIO27", "GPIO22", "GPIO23"):
        assert [ln.split()[2] for ln in lines if ln.split()[1] == pin] == ["1", "0"]


def test_daemon_talks_to_systemd_and_stops_cleanly(broker, tmp_path: Path) -> None:
    """``Type=notify`` + ``WatchdogSec=``: READY, watchdog pings while healthy, STOPPING on TERM."""
    import os
    import signal
    import socket

    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(15)
    cfg = tmp_path / "g.toml"
    cfg.write_text(f"""
[device]
site = "s1"
id = "gsd"
data_dir = "{tmp_path / 'data'}"
[mqtt]
url = "{broker.url}"
[gate]
hub_url = "http://127.0.0.1:9"
[[scanner]]
kind = "stdin"
[io]
pin_factory = "mock"
""")
    env = {**os.environ, "NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "400000"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "venue.cli", "gate", "--config", str(cfg)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
        cwd=tmp_path,
    )
    try:
        got: list[str] = []
        while not any("WATCHDOG=1" in g for g in got):
            got.append(sock.recv(4096).decode())
        assert got[0].startswith("READY=1")
        proc.send_signal(signal.SIGTERM)
        while not any("STOPPING=1" in g for g in got):
            got.append(sock.recv(4096).decode())
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        sock.close()
    out = proc.stdout.read().decode() if proc.stdout else ""
    assert "Traceback" not in out and "Fatal" not in out, out
