"""`venue broker-config` output run as is by a real Mosquitto: devices confined to their own topics,
strangers refused, operators with their own login, TLS with the venue CA, and the same rules
through the dynamic-security plugin (when this machine's Mosquitto has it).

Absence of a message is proved with a barrier (see test_provision_broker.py, whose paho client
these tests reuse): Mosquitto delivers one publisher's messages in order.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from helpers_mqtt import wait_for
from paho.mqtt.enums import CallbackAPIVersion
from provkit import provision_args, venue
from test_provision_broker import Client, _free_port, _password

from firmware_config import mosquitto
from firmware_config.mosquitto import find_dynsec_plugin

G1, G2 = "venue/v1/s1/gate/g1", "venue/v1/s1/gate/g2"


class Mosquitto:
    """The generated mosquitto.conf, run unchanged (plus ``user root``: the test's temp dirs
    are root-only, where a broker's files would be root:mosquitto 0640)."""

    def __init__(self, out: Path, ports: tuple[int, ...]) -> None:
        self.conf = out / "run.conf"
        prefix = "user root\n" if os.geteuid() == 0 else ""
        self.conf.write_text(prefix + (out / "mosquitto.conf").read_text())
        self.log = open(out / "mosquitto.log", "wb")  # noqa: SIM115
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = subprocess.Popen([exe, "-c", str(self.conf)], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        for port in ports:
            wait_for(partial(self._listening, port), 10, f"broker on {port}")

    def _listening(self, port: int) -> bool:
        import socket

        assert self.proc.poll() is None, (self.conf.parent / "mosquitto.log").read_text()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            return False

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    """Two gates and a hub, all with TLS client certificates; the hub's server certificate is
    for 127.0.0.1."""
    inv = tmp_path / "inv"
    assert venue(*provision_args(inv, "hub", "h1", "--tls", "--broker",
                                 "mqtts://127.0.0.1:8883")).code == 0
    for g in ("g1", "g2"):
        assert venue(*provision_args(inv, "gate", g, "--tls")).code == 0
    return inv


@pytest.fixture
def run_broker(tmp_path: Path) -> Iterator[Callable[..., tuple[Path, int]]]:
    started: list[Mosquitto] = []

    def start(inv: Path, *extra: str, tls_port: int | None = None) -> tuple[Path, int]:
        out = tmp_path / f"out{len(started)}"
        port = _free_port()
        more = ("--tls", "--tls-port", str(tls_port), "--bind", "127.0.0.1") if tls_port else ()
        res = venue("broker-config", "--inventory", str(inv), "--port", str(port),
                    "--out", str(out), *extra, *more)
        assert res.code == 0, res.err
        assert "password" not in res.out.replace("password in", "")  # names places, not secrets
        started.append(Mosquitto(out, (port, tls_port) if tls_port else (port,)))
        return out, port

    yield start
    for m in started:
        m.stop()


def _operator_password(inv: Path) -> str:
    return str(tomllib.loads((inv / "secrets.toml").read_text())["operators"]["s1"])


def _needs_plugin(kind: str) -> None:
    if kind == "dynsec" and find_dynsec_plugin() is None:
        pytest.skip("this machine's Mosquitto has no dynamic-security plugin")


@pytest.mark.parametrize("kind", ["files", "dynsec"])
def test_devices_confined_strangers_refused_operators_command(
        kind: str, inventory: Path, run_broker: Any) -> None:
    _needs_plugin(kind)
    inv = inventory
    out, port = run_broker(inv, *(["--dynsec"] if kind == "dynsec" else []))
    if kind == "dynsec":
        assert not (out / "acl").exists() and "plugin " in (out / "mosquitto.conf").read_text()
        users = {c["username"] for c in json.loads((out / "dynamic-security.json").read_text())
                 ["clients"]}
        assert {"s1.gate.g1", "s1.gate.g2", "s1.hub.h1", "s1.operator"} <= users
    clients: list[Client] = []

    def login(user: str | None, pw: str | None) -> Client:
        c = Client(port, user, pw)
        clients.append(c)
        return c

    try:
        # anonymous, an unknown user and a wrong password are refused
        assert not login(None, None).connected()
        assert not login("s1.gate.g9", "whatever").connected()
        assert not login("s1.gate.g1", _password(inv, "g1") + "x").connected()
        g1 = login("s1.gate.g1", _password(inv, "g1"))
        g2 = login("s1.gate.g2", _password(inv, "g2"))
        hub = login("s1.hub.h1", _password(inv, "h1"))
        op = login("s1.operator", _operator_password(inv))
        assert g1.connected() and g2.connected() and hub.connected() and op.connected()
        hub.subscribe("venue/v1/s1/#", "homeassistant/#")

        # g1 publishes under its own root and its discovery topic, never under g2's
        for topic in (f"{G1}/status", f"{G1}/event/gate.scan", f"{G1}/cmd_result",
                      "homeassistant/device/g1/config"):
            g1.publish(topic)
        g1.publish(f"{G2}/status")
        g1.publish(f"{G2}/event/gate.scan")
        g1.publish(f"{G2}/cmd/open")
        g1.publish("homeassistant/device/g2/config")
        g1.publish(f"{G1}/telemetry")  # barrier
        wait_for(lambda: f"{G1}/telemetry" in hub.topics(), what="g1 barrier at the hub")
        got = hub.topics()
        assert {f"{G1}/status", f"{G1}/event/gate.scan", f"{G1}/cmd_result",
                "homeassistant/device/g1/config"} <= set(got)
        assert not {f"{G2}/status", f"{G2}/event/gate.scan", f"{G2}/cmd/open",
                    "homeassistant/device/g2/config"} & set(got)

        # g1 reads its own commands and Home Assistant's birth message, never g2's commands nor
        # anything else, however wide its subscription (retained messages included)
        g2.c.publish(f"{G2}/status", b"retained", qos=1, retain=True).wait_for_publish(5)
        g1.subscribe(f"{G1}/cmd/#", f"{G2}/cmd/#", "homeassistant/status", "venue/v1/+/#", "#")
        g2.subscribe(f"{G2}/cmd/#")
        op.publish(f"{G2}/cmd/open", b"for g2")  # the operator commands any device
        op.publish("homeassistant/status", b"online")
        op.publish(f"{G1}/status", b"forged")  # but writes no device topic
        op.publish(f"{G1}/cmd/open", b"for g1")  # barrier
        wait_for(lambda: f"{G1}/cmd/open" in g1.topics(), what="g1's command at g1")
        wait_for(lambda: f"{G2}/cmd/open" in g2.topics(), what="g2's command at g2")
        assert f"{G2}/cmd/open" not in g1.topics()
        assert "homeassistant/status" in g1.topics()
        assert set(g1.topics()) == {f"{G1}/cmd/open", "homeassistant/status"}
        wait_for(lambda: f"{G1}/cmd/open" in hub.topics(), what="operator barrier at hub")
        assert b"forged" not in [p for t, p in hub.messages if t == f"{G1}/status"]

        # the operator watches the site like the hub does (`venue monitor` subscribes to every
        # site by default: it gets only its own)
        op.subscribe("venue/v1/+/#")
        g1.publish(f"{G1}/event/gate.passage")
        wait_for(lambda: f"{G1}/event/gate.passage" in op.topics(), what="operator sees events")
    finally:
        for c in clients:
            c.close()


def test_tls_listener_with_the_venue_ca(inventory: Path, run_broker: Any) -> None:
    inv = inventory
    tls_port = _free_port()
    out, port = run_broker(inv, tls_port=tls_port)
    assert {"ca.crt", "server.crt", "server.key"} <= {p.name for p in out.iterdir()}
    assert (out / "server.key").stat().st_mode & 0o077 == 0o040  # broker's group, nobody else
    hub = Client(port, "s1.hub.h1", _password(inv, "h1"))
    key = out / "g1.key"
    key.write_text(tomllib.loads((inv / "secrets.toml").read_text())["devices"]["g1"]
                   ["tls_key_pem"])
    g1 = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    try:
        assert hub.connected()
        hub.subscribe("venue/v1/s1/#")
        # the generated ca.crt verifies the broker (hostname checked), the client cert logs in
        g1.tls_set(ca_certs=str(out / "ca.crt"), certfile=str(inv / "devices/g1/client.crt"),
                   keyfile=str(key))
        assert g1.connect("127.0.0.1", tls_port, keepalive=10) == 0
        g1.loop_start()
        g1.publish(f"{G2}/status", b"not mine", qos=1).wait_for_publish(5)
        g1.publish(f"{G1}/status", b"online", qos=1).wait_for_publish(5)
        wait_for(lambda: f"{G1}/status" in hub.topics(), what="g1 status over TLS")
        assert f"{G2}/status" not in hub.topics()
        # a CA that did not sign the broker's certificate is refused
        other = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2)
        other.tls_set(ca_certs=str(_other_ca(out)), certfile=str(inv / "devices/g1/client.crt"),
                      keyfile=str(key))
        import ssl

        with pytest.raises(ssl.SSLError):
            other.connect("127.0.0.1", tls_port, keepalive=10)
    finally:
        g1.disconnect()
        g1.loop_stop()
        hub.close()


def _other_ca(out: Path) -> Path:
    from datetime import UTC, datetime

    from firmware_config import pki

    p = out / "other-ca.crt"
    p.write_text(pki.make_ca("elsewhere", datetime.now(UTC)).cert_pem)
    return p


def test_operator_password_is_kept_and_the_conf_names_no_secret_but_the_bridge(
        inventory: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert venue("broker-config", "--inventory", str(inventory), "--out", str(a)).code == 0
    first = _operator_password(inventory)
    assert venue("broker-config", "--inventory", str(inventory), "--out", str(b)).code == 0
    assert _operator_password(inventory) == first  # same login after a regeneration
    assert (inventory / "secrets.toml").stat().st_mode & 0o077 == 0
    for d in (a, b):
        text = "".join(p.read_text() for p in d.iterdir() if p.is_file())
        assert first not in text and _password(inventory, "g1") not in text
        assert (d / "passwd").stat().st_mode & 0o007 == 0
    conf = (a / "mosquitto.conf").read_text()
    assert "allow_anonymous false" in conf and "persistence true" in conf
    assert f"password_file {a.resolve()}/passwd" in conf
    c = venue("broker-config", "--inventory", str(inventory), "--out", str(tmp_path / "c"),
              "--install-dir", "/etc/mosquitto/venue")
    assert c.code == 0
    assert "acl_file /etc/mosquitto/venue/acl" in (tmp_path / "c/mosquitto.conf").read_text()


def test_usage_errors_are_one_clear_line(inventory: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    out = str(tmp_path / "o")
    pw = tmp_path / "pw"
    pw.write_text("s3cret\n")
    cases = [
        (["--inventory", str(tmp_path / "nope")], "no devices there"),
        (["--inventory", str(inventory), "--port", "70000"], "--port 70000"),
        (["--inventory", str(inventory), "--bridge-to", "http://x"], "--bridge-to"),
        (["--inventory", str(inventory), "--bridge-to", "mqtt://c:1883"], "--bridge-user"),
        (["--inventory", str(inventory), "--bridge-to", "mqtt://c:1883", "--bridge-user", "u",
          "--bridge-password-file", str(tmp_path / "missing")], "--bridge-password-file"),
        (["--inventory", str(inventory), "--dynsec", "--plugin", "/nonexistent.so"],
         "--plugin /nonexistent.so"),
    ]
    for extra, needle in cases:
        res = venue("broker-config", "--out", out, *extra)
        assert res.code == 2 and needle in res.err and res.err.count("\n") == 1, (extra, res)
    # a Mosquitto without the plugin: the command says so (and how to go on)
    monkeypatch.setattr(mosquitto, "DYNSEC_PLUGIN_DIRS", (str(tmp_path),))
    res = venue("broker-config", "--out", out, "--inventory", str(inventory), "--dynsec")
    assert res.code == 2 and "no dynamic-security plugin" in res.err
    # TLS needs a hub provisioned with --tls
    plain = tmp_path / "plain"
    assert venue(*provision_args(plain, "gate", "g1")).code == 0
    res = venue("broker-config", "--out", out, "--inventory", str(plain), "--tls")
    assert res.code == 2 and "--tls: provision a hub with --tls first" in res.err


def test_dynsec_admin_locks_a_device_out_while_the_broker_runs(
        inventory: Path, run_broker: Any) -> None:
    """The generated ``dynsec-admin`` login works with ``mosquitto_ctrl``: no restart needed."""
    _needs_plugin("dynsec")
    ctrl = shutil.which("mosquitto_ctrl")
    if ctrl is None:
        pytest.skip("mosquitto_ctrl is not installed")
    out, port = run_broker(inventory, "--dynsec")
    admin_pw = tomllib.loads((inventory / "secrets.toml").read_text())["broker"][
        "dynsec_admin_password"]
    first = Client(port, "s1.gate.g1", _password(inventory, "g1"))
    try:
        assert first.connected()
        res = subprocess.run([ctrl, "-h", "127.0.0.1", "-p", str(port), "-u", "dynsec-admin",
                              "-P", admin_pw, "dynsec", "disableClient", "s1.gate.g1"],
                             capture_output=True, text=True, timeout=10)
        assert res.returncode == 0, res.stdout + res.stderr
        wait_for(lambda: not first.c.is_connected(), 10, "g1's session closed")
        again = Client(port, "s1.gate.g1", _password(inventory, "g1"))
        assert not again.connected()
        again.close()
        other = Client(port, "s1.gate.g2", _password(inventory, "g2"))
        assert other.connected()  # the others are untouched
        other.close()
        saved = json.loads((out / "dynamic-security.json").read_text())  # the plugin saved it
        assert next(c for c in saved["clients"] if c["username"] == "s1.gate.g1")["disabled"]
    finally:
        first.close()
