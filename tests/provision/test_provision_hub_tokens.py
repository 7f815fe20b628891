"""A provisioned device's hub token works once the hub imports the inventory, and stops working
when the device is revoked and the inventory is imported again with ``--prune``."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import requests

from tests.hub.hubkit import free_port
from tests.provision.provkit import provision_args, venue


def hub_cli(db: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "venue.cli", "hub", "token", *args, "--db", db],
                          capture_output=True, text=True, timeout=60)


def test_import_then_prune(tmp_path: Path) -> None:
    inv = tmp_path / "inv"
    assert venue(*provision_args(inv, "gate", "g1")).code == 0
    assert venue(*provision_args(inv, "gate", "g2")).code == 0
    secrets = tomllib.loads((inv / "secrets.toml").read_text())["devices"]
    tok1, tok2 = secrets["g1"]["hub_token"], secrets["g2"]["hub_token"]
    db = f"sqlite:///{tmp_path / 'hub.sqlite'}"

    res = hub_cli(db, "import", str(inv / "hub-tokens.json"))
    assert res.returncode == 0, res.stderr
    assert "2 added" in res.stdout
    assert "0 added, 2 already known" in hub_cli(db, "import", str(inv / "hub-tokens.json")).stdout

    assert venue("provision", "--revoke", "g1", "--out", str(inv)).code == 0
    res = hub_cli(db, "import", "--prune", str(inv / "hub-tokens.json"))
    assert res.returncode == 0 and "1 revoked" in res.stdout, res.stdout + res.stderr

    port = free_port()
    hub = subprocess.Popen(
        [sys.executable, "-m", "venue.cli", "hub", "--db", db, "--listen", f"127.0.0.1:{port}",
         "--no-mqtt"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            assert hub.poll() is None, "the hub exited"
            try:
                if requests.get(f"{base}/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the hub did not come up"
            time.sleep(0.1)

        def replica(device: str, token: str) -> int:
            return requests.get(f"{base}/api/v1/gates/{device}/replica",
                                headers={"Authorization": f"Bearer {token}"}, timeout=5
                                ).status_code

        assert replica("g2", tok2) == 200
        assert replica("g1", tok1) == 401
    finally:
        hub.terminate()
        hub.wait(10)


def test_bad_token_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "hub-tokens.json"
    bad.write_text(json.dumps([{"device": "g1", "role": "admin", "token_sha256": "0" * 64}]))
    res = hub_cli(f"sqlite:///{tmp_path / 'hub.sqlite'}", "import", str(bad))
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "not a device role" in res.stderr
