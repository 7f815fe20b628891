"""The inventory's passwd and acl files confine devices on a real Mosquitto; revocation locks out.

Absence of a message is checked with a barrier, not a sleep: after the forbidden publish the same
client publishes an allowed one, and Mosquitto delivers one publisher's messages in order, so
once the allowed one has arrived the forbidden one would have arrived before it.
"""

from __future__ import annotations

import os
import signal
import threading
import tomllib
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from helpers_mqtt import wait_for
from paho.mqtt.enums import CallbackAPIVersion
from provkit import provision_args, venue

from firmware_config.inventory import Inventory
from firmware_config.mosquitto import hash_password
from firmware_config.provision import ProvisionRequest, provision


class Client:
    """A bare paho client that records the CONNACK and every message."""

    def __init__(self, port: int, username: str | None, password: str | None) -> None:
        self.connack: Any = None
        self.messages: list[tuple[str, bytes]] = []
        self.subacks: list[list[Any]] = []
        self._lock = threading.Lock()
        self.c = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2)
        if username is not None:
            self.c.username_pw_set(username, password)
        self.c.on_connect = self._on_connect
        self.c.on_message = self._on_message
        self.c.on_subscribe = lambda c, u, mid, rcs, p: self.subacks.append(list(rcs))
        self.c.reconnect_delay_set(60, 60)  # one attempt is what we want to observe
        self.c.connect_async("127.0.0.1", port, keepalive=10)
        self.c.loop_start()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        self.connack = rc

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload)))

    def connected(self) -> bool:
        wait_for(lambda: self.connack is not None, what="CONNACK")
        return not self.connack.is_failure

    def topics(self) -> list[str]:
        with self._lock:
            return [t for t, _ in self.messages]

    def publish(self, topic: str, payload: bytes = b"x") -> None:
        self.c.publish(topic, payload, qos=1).wait_for_publish(5)

    def subscribe(self, *filters: str) -> None:
        n = len(self.subacks)
        self.c.subscribe([(f, 1) for f in filters])
        wait_for(lambda: len(self.subacks) > n, what="SUBACK")

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    """g1 hashed by Python, g2 and the hub by mosquitto_passwd when installed."""
    inv = tmp_path / "inv"
    provision(Inventory(inv), ProvisionRequest(site="s1", role="gate", device_id="g1"),
              password_hasher=lambda user, pw: hash_password(pw))
    assert venue(*provision_args(inv, "gate", "g2")).code == 0
    assert venue(*provision_args(inv, "hub", "h1")).code == 0
    assert "$7$" in (inv / "mosquitto" / "passwd").read_text()
    return inv


def _password(inv: Path, device: str) -> str:
    data = tomllib.loads((inv / "secrets.toml").read_text())
    return str(data["devices"][device]["mqtt_password"])


def test_device_confined_by_acl_and_revocation_locks_it_out(
    inventory: Path, broker_factory: Any
) -> None:
    inv = inventory
    # `user root`: the test's temp dirs are root-only; on a hub the files are root:mosquitto 0640.
    broker = broker_factory(
        "user root\n"
        f"allow_anonymous false\npassword_file {inv}/mosquitto/passwd\n"
        f"acl_file {inv}/mosquitto/acl\n"
    )
    clients: list[Client] = []

    def login(user: str | None, pw: str | None) -> Client:
        c = Client(broker.port, user, pw)
        clients.append(c)
        return c

    try:
        # logins: the Python-hashed password works, a wrong one and anonymous do not
        g1 = login("s1.gate.g1", _password(inv, "g1"))
        assert g1.connected()
        assert not login("s1.gate.g1", _password(inv, "g1") + "x").connected()
        assert not login(None, None).connected()
        g2 = login("s1.gate.g2", _password(inv, "g2"))
        hub = login("s1.hub.h1", _password(inv, "h1"))
        assert g2.connected() and hub.connected()

        hub.subscribe("venue/v1/s1/#", "homeassistant/#")
        g1_root, g2_root = "venue/v1/s1/gate/g1", "venue/v1/s1/gate/g2"

        # g1 writes under its own root (and its HA discovery topic); the hub reads it all
        for topic in (f"{g1_root}/status", f"{g1_root}/event/gate.scan",
                      f"{g1_root}/cmd_result", "homeassistant/device/g1/config"):
            g1.publish(topic)
        # g1 cannot write under g2's root, nor a command (not even its own)
        g1.publish(f"{g2_root}/status")
        g1.publish(f"{g2_root}/cmd/open")
        g1.publish(f"{g1_root}/cmd/open")
        g1.publish(f"{g1_root}/telemetry")  # barrier
        wait_for(lambda: f"{g1_root}/telemetry" in hub.topics(), what="g1 telemetry at hub")
        got = hub.topics()
        assert f"{g1_root}/status" in got and f"{g1_root}/event/gate.scan" in got
        assert f"{g1_root}/cmd_result" in got and "homeassistant/device/g1/config" in got
        assert f"{g2_root}/status" not in got
        assert f"{g2_root}/cmd/open" not in got and f"{g1_root}/cmd/open" not in got

        # g1 reads its own cmd, never g2's (whether the broker refuses the SUBACK or filters)
        g1.subscribe(f"{g1_root}/cmd/#", f"{g2_root}/cmd/#", f"{g2_root}/status")
        g2.subscribe(f"{g2_root}/cmd/#")
        hub.publish(f"{g2_root}/cmd/open", b"for g2")
        hub.publish(f"{g1_root}/cmd/open", b"for g1")  # barrier
        wait_for(lambda: f"{g1_root}/cmd/open" in g1.topics(), what="g1 cmd at g1")
        wait_for(lambda: f"{g2_root}/cmd/open" in g2.topics(), what="g2 cmd at g2")
        assert f"{g2_root}/cmd/open" not in g1.topics()
        g2.publish(f"{g2_root}/status", b"g2 online")
        g2.publish(f"{g2_root}/telemetry")  # barrier, seen by the hub
        wait_for(lambda: f"{g2_root}/telemetry" in hub.topics(), what="g2 telemetry at hub")
        g1.publish(f"{g1_root}/telemetry", b"barrier 2")
        wait_for(lambda: hub.topics().count(f"{g1_root}/telemetry") == 2, what="barrier 2")
        assert f"{g2_root}/status" not in g1.topics()

        # revoke g1: its login is refused once the broker reloads the files (SIGHUP)
        old_password = _password(inv, "g1")
        assert venue("provision", "--revoke", "g1", "--out", str(inv)).code == 0
        assert broker.proc is not None
        os.kill(broker.proc.pid, signal.SIGHUP)
        # a session that is open at that moment is closed by the broker, too
        wait_for(lambda: not g1.c.is_connected(), timeout=10, what="g1's live session closed")

        def refused() -> bool:
            c = login("s1.gate.g1", old_password)
            ok = c.connected()
            c.close()
            return not ok

        wait_for(refused, timeout=10, what="g1 refused after revocation")
        g2_again = login("s1.gate.g2", _password(inv, "g2"))
        assert g2_again.connected()  # the others still log in
    finally:
        for c in clients:
            c.close()



def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tls_connack(port: int, ca: Path, cert: Path | None = None, key: Path | None = None) -> bytes:
    """Send an MQTT CONNECT over TLS; the CONNACK bytes, or b"" when the broker refused TLS."""
    import socket
    import ssl

    ctx = ssl.create_default_context(cafile=str(ca))
    if cert is not None:
        ctx.load_cert_chain(str(cert), str(key))
    connect = b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x0a\x00\x00"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        try:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                tls.sendall(connect)
                return tls.recv(4)
        except (ssl.SSLError, ConnectionResetError):
            return b""


def test_tls_client_certificate_logs_in_and_is_confined(tmp_path: Path, broker_factory: Any
                                                        ) -> None:
    """With --tls the device's certificate is its login (CN = username) and the ACL applies."""
    import socket

    from firmware_config.mosquitto import render_tls_listener

    inv = tmp_path / "inv"
    assert venue(*provision_args(inv, "hub", "h1", "--tls", "--broker",
                                 "mqtts://127.0.0.1:8883")).code == 0
    assert venue(*provision_args(inv, "gate", "g1", "--tls")).code == 0
    secrets = tomllib.loads((inv / "secrets.toml").read_text())["devices"]
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    (keys / "server.key").write_text(secrets["h1"]["server_key_pem"])
    (keys / "g1.key").write_text(secrets["g1"]["tls_key_pem"])
    ca = inv / "ca" / "ca.crt"
    port = _free_port()
    broker = broker_factory(
        "user root\n"
        f"allow_anonymous false\npassword_file {inv}/mosquitto/passwd\n"
        f"acl_file {inv}/mosquitto/acl\n"
        + render_tls_listener(port, str(ca), str(inv / "devices/h1/server.crt"),
                              str(keys / "server.key"), bind="127.0.0.1",
                              crlfile=str(inv / "ca" / "crl.pem"))
    )

    def tls_port_open() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            return False

    wait_for(tls_port_open, what="TLS listener")
    hub = Client(broker.port, "s1.hub.h1", _password(inv, "h1"))
    try:
        assert hub.connected()
        hub.subscribe("venue/v1/s1/#")

        g1 = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2)
        g1.tls_set(ca_certs=str(ca), certfile=str(inv / "devices/g1/client.crt"),
                   keyfile=str(keys / "g1.key"))
        assert g1.connect("127.0.0.1", port, keepalive=10) == 0  # the server cert checks out
        g1.loop_start()
        try:
            g1.publish("venue/v1/s1/hub/h1/status", b"not mine", qos=1).wait_for_publish(5)
            g1.publish("venue/v1/s1/gate/g1/status", b"online", qos=1).wait_for_publish(5)
            wait_for(lambda: "venue/v1/s1/gate/g1/status" in hub.topics(), what="g1 status")
            assert "venue/v1/s1/hub/h1/status" not in hub.topics()
        finally:
            g1.disconnect()
            g1.loop_stop()

        # no client certificate: the broker refuses (in the handshake, or right after it on
        # TLS 1.3), and never answers an MQTT CONNECT
        assert _tls_connack(port, ca) == b""
        g1_cert = (inv / "devices/g1/client.crt", keys / "g1.key")
        assert _tls_connack(port, ca, *g1_cert) == b"\x20\x02\x00\x00"  # accepted

        # revoked: its certificate is in the CRL, and the handshake fails after a reload
        assert venue("provision", "--revoke", "g1", "--out", str(inv)).code == 0
        assert broker.proc is not None
        os.kill(broker.proc.pid, signal.SIGHUP)
        wait_for(lambda: _tls_connack(port, ca, *g1_cert) == b"", what="g1 certificate refused")
    finally:
        hub.close()
