"""Gate test helpers: a signing key, codes, and replica answers shaped like the hub's."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

from venue.codes import imported_hash, new_private_key, public_key_bytes, sign_code

SALT = bytes.fromhex("00112233445566778899aabbccddeeff")
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class Issuer:
    """Signs codes like the hub and builds replica answers (docs/contracts.md) for them."""

    def __init__(self) -> None:
        self.key = new_private_key()
        self.key_id = 1

    def code(self, series: int = 7, serial: int = 1, **kw: Any) -> str:
        return sign_code(self.key, key_id=self.key_id, series_id=series, serial=serial, **kw)

    def replica(self, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "cursor": "c1",
            "full": True,
            "hub_time": "2026-01-01T11:00:00Z",
            "hash_salt": SALT.hex(),
            "keys": [
                {
                    "key_id": self.key_id,
                    "public_key": base64.b64encode(public_key_bytes(self.key)).decode(),
                    "status": "active",
                }
            ],
            "series": [
                series(7),
                series(8, code_mode="imported"),
                series(9, code_mode="shared"),
                series(10, entry_rule="antipassback", entries_per_code=100),
                series(11, valid_until="2025-12-31T00:00:00Z"),
                series(12, valid_from="2026-02-01T00:00:00Z"),
                series(13, entry_rule="reentry", entries_per_code=2),
            ],
            "codes": [{"ref": "7:1", "status": "issued"}, {"ref": "7:2", "status": "revoked"}],
            "imported": [{"series": 8, "hash": imported_hash(SALT, "IMPORTED-1")}],
            "shared": [{"series": 9, "code": "SUMMER24"}],
            "used": [],
        }
        body.update(extra)
        return body


def series(id_: int, **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": id_,
        "name": f"S{id_}",
        "kind": "ticket",
        "code_mode": "generated",
        "valid_from": None,
        "valid_until": None,
        "issue_limit": 1000,
        "issued_count": 100,
        "entries_per_code": 1,
        "entry_rule": "single",
        "active": True,
    }
    body.update(kw)
    return body


def after(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def qr_frame(text: str, *, size: tuple[int, int] = (640, 480), scale: int = 4) -> Any:
    """A clean 640x480 grayscale photo-like frame with the QR of ``text`` in the middle (PIL)."""
    import numpy as np
    import segno
    from PIL import Image

    qr = segno.make_qr(text, error="m")
    m = np.array([[0 if cell else 255 for cell in row] for row in qr.matrix], dtype=np.uint8)
    m = np.kron(m, np.ones((scale, scale), dtype=np.uint8))
    canvas = np.full((size[1], size[0]), 235, dtype=np.uint8)
    quiet = 4 * scale
    h, w = m.shape
    y, x = (size[1] - h) // 2, (size[0] - w) // 2
    canvas[y - quiet : y + h + quiet, x - quiet : x + w + quiet] = 255
    canvas[y : y + h, x : x + w] = m
    return Image.fromarray(canvas, mode="L")


# --- processes for the end-to-end tests: the real hub and the real gate daemon ----------------

REPO = __import__("pathlib").Path(__file__).resolve().parents[2]
ADMIN = "admin-token-for-tests"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class HubProc:
    """``venue hub`` as a subprocess on a free port with a temp SQLite database."""

    def __init__(self, workdir: Any, mqtt_url: str) -> None:
        self.workdir = workdir
        self.port = _free_port()
        self.db = f"sqlite:///{workdir}/hub.db"
        self.mqtt_url = mqtt_url
        self.proc: Any = None
        self.url = f"http://127.0.0.1:{self.port}"
        import requests

        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {ADMIN}"

    def start(self) -> None:
        import os
        import subprocess
        import sys
        import time

        import requests

        log = open(self.workdir / "hub.log", "ab")  # noqa: SIM115
        env = {**os.environ, "VENUE_DEVICE__SITE": "s1", "VENUE_DEVICE__ID": "hub1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "venue.cli", "hub", "--db", self.db,
             "--listen", f"127.0.0.1:{self.port}", "--mqtt", self.mqtt_url,
             "--admin-token", ADMIN],
            stdout=log, stderr=log, cwd=self.workdir, env=env,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = (self.workdir / "hub.log").read_text()[-2000:]
                raise AssertionError(f"hub exited: {tail}")
            try:
                if requests.get(f"{self.url}/health", timeout=0.5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise AssertionError("hub did not start")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except Exception:
                self.proc.kill()
                self.proc.wait(10)
            self.proc = None

    def api(self, method: str, path: str, **kw: Any) -> Any:
        resp = self.http.request(method, f"{self.url}/api/v1{path}", timeout=10, **kw)
        assert resp.status_code < 300, (resp.status_code, resp.text)
        return resp.json()

    def token(self, device: str, **kw: Any) -> str:
        body = {"role": "gate", "device": device, **kw}
        return str(self.api("POST", "/tokens", json=body)["token"])

    def series(self, **kw: Any) -> dict[str, Any]:
        body = {"name": "Test", "issue_limit": 100, **kw}
        return dict(self.api("POST", "/series", json=body))

    def code(self, ref: str) -> dict[str, Any]:
        return dict(self.api("GET", f"/codes/{ref}"))


def gate_toml(
    path: Any,
    *,
    device: str,
    data_dir: Any,
    mqtt_url: str,
    hub_url: str,
    token: str,
    trace: Any,
    extra_scanners: str = "",
    gate_extra: str = "",
    refresh_s: float = 0.5,
) -> Any:
    """A gate config for a simulated gate: stdin scanner, mock pins with a trace file."""
    path.write_text(
        f"""
[device]
site = "s1"
id = "{device}"
data_dir = "{data_dir}"

[mqtt]
url = "{mqtt_url}"

[gate]
hub_url = "{hub_url}"
hub_token = "{token}"
budget_ms = 250
debounce_s = 0.5
replica_refresh_s = {refresh_s}
probe_s = 0.2
telemetry_s = 1.0
annul_timeout_s = 2.0
{gate_extra}

[[scanner]]
kind = "stdin"
{extra_scanners}

[io]
pin_factory = "mock"
pulse_ms = 100
mock_trace = "{trace}"
"""
    )
    return path


class GateProc:
    """``venue gate --config FILE`` as a subprocess fed on stdin."""

    def __init__(self, config: Any, workdir: Any, *, fault: str | None = None) -> None:
        import os
        import subprocess
        import sys

        env = dict(os.environ)
        env.pop("VENUE_GATE_FAULT", None)
        if fault:
            env["VENUE_GATE_FAULT"] = fault
        self.log_path = workdir / f"gate-{config.stem}.log"
        log = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "venue.cli", "gate", "--config", str(config)],
            stdin=subprocess.PIPE, stdout=log, stderr=log, env=env, cwd=workdir,
        )

    def send(self, *lines: str | bytes) -> None:
        assert self.proc.stdin is not None
        for line in lines:
            data = line.encode() if isinstance(line, str) else line
            self.proc.stdin.write(data + b"\n")
        self.proc.stdin.flush()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def wait_killed(self, timeout: float = 15.0) -> int:
        return int(self.proc.wait(timeout))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except Exception:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass


def pulses(trace: Any, pin: str = "GPIO17") -> int:
    """How many times the relay was energised, from the mock pins' trace file."""
    if not trace.exists():
        return 0
    return sum(1 for line in trace.read_text().splitlines() if line.endswith(f" {pin} 1"))
