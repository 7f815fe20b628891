"""`venue beacon` config and tools: the example config loads, bad settings fail on one line,
`pair` prints the documented vectors, `listen` shows and records sightings without addresses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from beacon.cli import Listener
from beacon.config import BeaconConfig
from beacon.ibeacon import APPLE, build_frame
from venue.cli import main
from venue.config import load_config
from venue.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "beacon.toml"


def test_example_config_loads_with_every_section() -> None:
    cfg = load_config(BeaconConfig, EXAMPLE, env={})
    assert cfg.beacon.backend == "simulated" and cfg.device.id == "beacon1"
    assert cfg.beacon.tracker_params().min_near_s == 20.0
    assert cfg.beacon.filter.beta == 0.005
    assert cfg.outbox_path() == Path("var/beacon1/beacon-outbox.db")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("[beacon]\nexit_rssi = -70.0\n", "beacon.exit_rssi"),
        ('[beacon]\napp_uuids = ["not-a-uuid"]\n', "beacon.app_uuids"),
        ("[beacon]\nforget_s = 10.0\n", "beacon.forget_s"),
        ('[beacon]\nscanning_mode = "loud"\n', "beacon.scanning_mode"),
        ("[beacon]\nenter_rsi = -70\n", "beacon.enter_rsi: unknown key"),
        ("[beacon.filter]\nbeta = -1.0\n", "beacon.filter"),
        ("[beacon]\ndeaf_after_s = 60.0\n", "beacon.deaf_after_s"),
    ],
)
def test_bad_settings_fail_naming_the_key(tmp_path: Path, body: str, fragment: str) -> None:
    p = tmp_path / "b.toml"
    p.write_text(body)
    with pytest.raises(ConfigError) as err:
        load_config(BeaconConfig, p, env={})
    assert fragment in str(err.value) and str(p) in str(err.value)


def test_cli_reports_config_errors_with_status_2(tmp_path: Path) -> None:
    p = tmp_path / "b.toml"
    p.write_text("[beacon]\nexit_rssi = -70.0\n")
    assert main(["beacon", "--config", str(p)]) == 2


def test_pair_prints_the_documented_vector(capsys: pytest.CaptureFixture[str]) -> None:
    secret = "000102030405060708090a0b0c0d0e0f"
    assert main(["beacon", "pair", secret, "--day", "2026-01-01"]) == 0
    assert json.loads(capsys.readouterr().out) == {"day": "2026-01-01", "major": 32691,
                                                   "minor": 23508}
    assert main(["beacon", "pair", "abcd"]) == 2  # too short a secret


class Adv:
    def __init__(self, md: object, rssi: object) -> None:
        self.manufacturer_data = md
        self.rssi = rssi


class Dev:
    address = "7A:1B:2C:3D:4E:5F"


def test_listener_prints_and_records_without_the_address(tmp_path: Path) -> None:
    cfg = load_config(BeaconConfig, EXAMPLE, env={})
    out = tmp_path / "out.txt"
    rec = tmp_path / "rec.jsonl"
    app = cfg.beacon.app_uuids[0]
    with out.open("w") as o, rec.open("w") as r:
        listener = Listener(cfg, o, r, all_=False)
        listener(Dev(), Adv({APPLE: build_frame(app, 11, 22, -59)}, -59))
        listener(Dev(), Adv({APPLE: build_frame(app, 11, 22, -59)}, -69))
        listener(Dev(), Adv({APPLE: build_frame(bytes(16), 1, 2, -59)}, -60))  # other app
        listener(Dev(), Adv({APPLE: b"\x02\x15"}, -60))  # truncated
        listener(Dev(), Adv(None, "x"))  # garbage
    text = out.read_text()
    lines = text.splitlines()
    assert len(lines) == 2 and listener.shown == 2
    assert "major=11" in lines[0] and "minor=22" in lines[0] and "1.0 m" in lines[0]
    assert "7A:1B" not in text and listener.address_hash(Dev.address) in lines[0]
    recs = [json.loads(x) for x in rec.read_text().splitlines()]
    assert [(x["uuid"], x["major"], x["minor"], x["rssi"]) for x in recs] == [
        (app, 11, 22, -59), (app, 11, 22, -69)
    ]
    assert all(set(x) == {"t", "uuid", "major", "minor", "rssi", "tx"} for x in recs)


def test_listen_with_the_simulated_backend(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "b.toml"
    p.write_text(
        '[beacon]\nbackend = "simulated"\n'
        "[simulation]\nspeed = 200.0\nvisitors_per_minute = 30.0\nadverts_per_s = 5.0\n"
    )
    rec = tmp_path / "rec.jsonl"
    assert main(["beacon", "listen", "--config", str(p), "--duration", "0.5",
                 "--record", str(rec)]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert shown and all("53fee14b-aa2c-4bb0-80d9-c6815dcc2d49" in x for x in shown)
    assert len(rec.read_text().splitlines()) == len(shown)


def test_daemon_process_runs_and_stops_cleanly_on_sigterm(tmp_path: Path, broker: object) -> None:
    import signal
    import subprocess
    import sys

    from helpers_mqtt import Collector, wait_for

    from venue.messages import Status

    port = broker.port  # type: ignore[attr-defined]
    cfg = tmp_path / "beacon.toml"
    cfg.write_text(
        f'[device]\nsite = "s1"\nid = "b9"\ndata_dir = "{tmp_path / "data"}"\n'
        f'[mqtt]\nurl = "mqtt://127.0.0.1:{port}"\n'
        '[beacon]\nbackend = "simulated"\ntick_s = 0.1\n'
    )
    sub = Collector(port, "venue/v1/s1/beacon/b9/status")
    sub.wait_subscribed()
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "venue.cli", "beacon", "--config", str(cfg)], cwd=root,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        def state() -> str | None:
            msgs = sub.all()
            return Status.decode(msgs[-1].payload).state if msgs else None

        wait_for(lambda: state() == "online", 20, "status online")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0, proc.stderr.read() if proc.stderr else ""
        wait_for(lambda: state() == "offline", 10, "status offline on a clean stop")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        sub.close()
