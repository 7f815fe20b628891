"""`venue monitor --once --json` and `venue cmd` against a real broker and device link."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from venue.config import MqttSection
from venue.messages import Command
from venue.mqtt import MqttLink
from venue.topics import DeviceRef


def venue(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "venue.cli", *args], capture_output=True,
                          text=True, timeout=timeout, cwd="/")


def test_monitor_and_cmd(broker: Any) -> None:
    settings = MqttSection(url=broker.url, keepalive=5)
    opened: list[Command] = []

    def on_open(cmd: Command) -> dict[str, Any]:
        opened.append(cmd)
        return {"opened": True}

    gate = MqttLink(DeviceRef("s1", "gate", "g1"), settings)
    gate.on_command("open", on_open)
    gate.start()
    try:
        assert gate.wait_connected(10)
        gate.publish_event("gate.scan", {"result": "admit", "offline": False})
        assert gate.wait_drained(10)

        out = venue("monitor", "--mqtt", broker.url, "--once", "--json", "--wait", "1")
        assert out.returncode == 0, out.stderr
        snap = json.loads(out.stdout)
        devices = {d["device"]: d for d in snap["devices"]}
        assert devices["g1"]["state"] == "online"
        assert devices["g1"]["role"] == "gate"

        res = venue("cmd", "--mqtt", broker.url, "g1", "open", "seconds=3", "--by", "alice")
        assert res.returncode == 0, res.stderr
        answer = json.loads(res.stdout)
        assert answer["ok"] is True and answer["data"] == {"opened": True}
        assert opened[0].by == "alice" and opened[0].args == {"seconds": 3}

        unknown = venue("cmd", "--mqtt", broker.url, "g1", "dance")
        assert unknown.returncode == 1
        assert json.loads(unknown.stdout)["ok"] is False

        missing = venue("cmd", "--mqtt", broker.url, "nobody", "ping", "--timeout", "1")
        assert missing.returncode == 1 and "nobody" in missing.stderr
    finally:
        gate.stop()

    out = venue("monitor", "--mqtt", broker.url, "--once", "--json", "--wait", "1")
    devices = {d["device"]: d for d in json.loads(out.stdout)["devices"]}
    assert devices["g1"]["state"] == "offline"


def test_monitor_reports_unreachable_broker() -> None:
    out = venue("monitor", "--mqtt", "mqtt://127.0.0.1:9", "--once", timeout=30)
    assert out.returncode == 1
    assert "cannot reach the broker" in out.stderr
