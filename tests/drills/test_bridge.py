"""The bridged venue broker (issue 12): two real Mosquitto processes, the venue's running the
config `venue broker-config --bridge-to` wrote, and a central one with its own logins and ACL.

The central broker is stopped while two gates keep reporting events to the venue broker; when it
comes back every event reaches a persistent subscriber at the central side, none lost, in order per
gate. Commands go the other way: one published at the central broker reaches the gate (through
the bridge's ``in`` topic) and its result comes back out. Topics that must not cross (an event
published centrally, another site's command) do not.

The uplink is TLS (``mqtts://``, the central side's CA given with ``--bridge-ca``), the bridge
logs in with its own password. The default cut is 10 s; ``VENUE_DRILLS=1`` runs the acceptance
drill: a full minute.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from helpers_mqtt import wait_for
from paho.mqtt.enums import CallbackAPIVersion

from firmware_config import pki
from firmware_config.mosquitto import hash_password
from venue.cli import main as venue_main
from venue.config import MqttSection
from venue.messages import Command, CommandResult, Event
from venue.mqtt import MqttLink
from venue.outbox import Outbox
from venue.topics import DeviceRef

RATE_S = 0.05  # one event per gate every 50 ms while the uplink is cut


def venue(*argv: str) -> tuple[int, str]:
    """``venue ARGV...`` in this process; its exit status and what it wrote to stderr."""
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = venue_main(list(argv))
    return code, err.getvalue()


class Peer:
    """A paho client with a login, optionally a persistent session; records every message."""

    def __init__(self, port: int, user: str, password: str, *filters: str,
                 client_id: str = "", clean: bool = True) -> None:
        self.filters = filters
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self.subscribed = threading.Event()
        self.connected = threading.Event()
        self.c = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                             client_id=client_id, clean_session=clean)
        self.c.username_pw_set(user, password)
        self.c.reconnect_delay_set(1, 1)
        self.c.on_connect = self._on_connect
        self.c.on_subscribe = lambda *a: self.subscribed.set()
        self.c.on_message = self._on_message
        self.c.connect_async("127.0.0.1", port, keepalive=5)
        self.c.loop_start()
        assert self.connected.wait(10), f"{user} did not connect"
        if filters:
            assert self.subscribed.wait(10), f"{user} did not subscribe"

    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if not rc.is_failure:
            if self.filters:
                client.subscribe([(f, 1) for f in self.filters])
            self.connected.set()

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload)))

    def on(self, topic: str) -> list[bytes]:
        with self._lock:
            return [p for t, p in self.messages if t == topic]

    def topics(self) -> set[str]:
        with self._lock:
            return {t for t, _ in self.messages}

    def publish(self, topic: str, payload: bytes) -> None:
        self.c.publish(topic, payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


@pytest.fixture
def venue_broker(tmp_path: Path, broker_factory: Any) -> Iterator[dict[str, Any]]:
    """Inventory (gates g1, g2 and hub h1), a central broker with its logins and ACL, and the
    venue broker started from the generated config with the bridge to the central one."""
    inv = tmp_path / "inv"
    for role, dev in (("hub", "h1"), ("gate", "g1"), ("gate", "g2")):
        assert venue("provision", "--site", "s1", "--role", role, "--id", dev,
                     "--out", str(inv))[0] == 0
    # the central side: the venue's bridge may write this site's device topics except
    # commands and read only this site's commands; the central app reads all and commands
    central_dir = tmp_path / "central"
    (central_dir / "store").mkdir(parents=True)
    (central_dir / "passwd").write_text(
        f"bridge-s1:{hash_password('bridge-pw')}\ncentral:{hash_password('central-pw')}\n")
    root = "venue/v1/s1/+/+"
    (central_dir / "acl").write_text("\n".join([
        "user bridge-s1", f"topic write {root}/event/#", f"topic write {root}/status",
        f"topic write {root}/cmd_result", f"topic write {root}/telemetry",
        f"topic read {root}/cmd/#", "",
        "user central", "topic read venue/v1/#", "topic write venue/v1/+/+/+/cmd/#", ""]))
    # the uplink is TLS, as in production: a CA of the central side, its server certificate
    ca = pki.make_ca("central", datetime.now(UTC))
    server = pki.issue_server(ca, ["127.0.0.1"], datetime.now(UTC))
    for name, text in (("ca.crt", ca.cert_pem), ("server.crt", server.cert_pem),
                       ("server.key", server.key_pem)):
        (central_dir / name).write_text(text)
    tls_port = _free_port()
    central = broker_factory(
        "allow_anonymous false\n"
        f"password_file {central_dir}/passwd\nacl_file {central_dir}/acl\n"
        f"persistence true\npersistence_location {central_dir}/store/\nautosave_interval 1\n"
        "max_queued_messages 1000000\n"
        f"listener {tls_port} 127.0.0.1\ncafile {central_dir}/ca.crt\n"
        f"certfile {central_dir}/server.crt\nkeyfile {central_dir}/server.key\n")
    pw = tmp_path / "bridge-password"
    pw.write_text("bridge-pw\n")
    out, port = tmp_path / "venue-broker", _free_port()
    code, err = venue("broker-config", "--inventory", str(inv), "--out", str(out),
                      "--port", str(port), "--bind", "127.0.0.1",
                      "--bridge-to", f"mqtts://127.0.0.1:{tls_port}",
                      "--bridge-ca", str(central_dir / "ca.crt"),
                      "--bridge-user", "bridge-s1", "--bridge-password-file", str(pw))
    assert code == 0, err
    conf = out / "run.conf"
    prefix = "user root\n" if os.geteuid() == 0 else ""  # temp dirs are root-only
    conf.write_text(prefix + (out / "mosquitto.conf").read_text())
    log = open(out / "mosquitto.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: _listening(port), 10, "venue broker")
        yield {"inv": inv, "port": port, "central": central, "dir": tmp_path}
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def _password(inv: Path, device: str) -> str:
    import tomllib

    return str(tomllib.loads((inv / "secrets.toml").read_text())["devices"][device]
               ["mqtt_password"])


def _link(env: dict[str, Any], device: str) -> MqttLink:
    ref = DeviceRef("s1", "gate", device)
    settings = MqttSection(url=f"mqtt://127.0.0.1:{env['port']}", username=f"s1.gate.{device}",
                           password=_password(env["inv"], device))
    outbox = Outbox(str(env["dir"] / f"{device}-outbox.db"))
    return MqttLink(ref, settings, outbox=outbox, reconnect_delay=(0.2, 1.0))


def _seqs(audit: Peer, device: str) -> list[int]:
    """Sequence numbers in arrival order, each event once (QoS 1 may deliver one twice)."""
    seen: set[str] = set()
    out = []
    for payload in audit.on(f"venue/v1/s1/gate/{device}/event/gate.scan"):
        ev = Event.decode(payload)
        if ev.id not in seen:
            seen.add(ev.id)
            out.append(int(ev.data["seq"]))
    return out


def uplink_cut(env: dict[str, Any], cut_s: float) -> dict[str, Any]:
    central = env["central"]
    audit = Peer(central.port, "central", "central-pw", "venue/v1/s1/#",
                 client_id="central-audit", clean=False)
    links = {d: _link(env, d) for d in ("g1", "g2")}
    hub = Peer(env["port"], "s1.hub.h1", _password(env["inv"], "h1"), "venue/v1/s1/#")
    sent = dict.fromkeys(links, 0)

    def emit(device: str) -> None:
        links[device].publish_event("gate.scan", {"seq": sent[device]})
        sent[device] += 1

    try:
        for link in links.values():
            link.start()
            assert link.wait_subscribed(10)
        # the bridge is up: an event crosses
        for d in links:
            emit(d)
        wait_for(lambda: all(_seqs(audit, d) == [0] for d in links), 30, "bridge up")

        central.stop()  # the uplink is cut
        cut_at = time.monotonic()
        while time.monotonic() - cut_at < cut_s:
            for d in links:
                emit(d)
            time.sleep(RATE_S)
        for link in links.values():  # every event is at the venue broker, acked
            assert link.wait_drained(10)
        central.start()
        wait_for(lambda: all(len(_seqs(audit, d)) >= sent[d] for d in links), 60,
                 "every event at the central broker after the cut")
        back_after = time.monotonic() - cut_at - cut_s

        # commands come in: a ping sent centrally reaches g1 and its result goes out; an event
        # published centrally and another site's command do not cross
        central_app = Peer(central.port, "central", "central-pw")
        central_app.publish("venue/v1/s1/gate/g1/event/forged", b"{}")
        central_app.publish("venue/v1/s2/gate/g1/cmd/ping", Command("ping").encode())
        ping = Command("ping", by="central")
        deadline = time.monotonic() + 30
        while not _result(audit, ping.id) and time.monotonic() < deadline:
            central_app.publish("venue/v1/s1/gate/g1/cmd/ping", ping.encode())
            time.sleep(1.0)
        result = _result(audit, ping.id)
        central_app.close()
        assert result is not None and result.ok, "a central command round trip"
        assert "venue/v1/s1/gate/g1/event/forged" not in hub.topics()
        assert not [t for t in hub.topics() if t.startswith("venue/v1/s2/")]
        return {"sent": sent, "seqs": {d: _seqs(audit, d) for d in links},
                "back_after_s": back_after}
    finally:
        for link in links.values():
            link.stop()
        audit.close()
        hub.close()


def _result(audit: Peer, id_: str) -> CommandResult | None:
    for payload in audit.on("venue/v1/s1/gate/g1/cmd_result"):
        res = CommandResult.decode(payload)
        if res.id == id_:
            return res
    return None


def _check(report: dict[str, Any], min_events: int) -> None:
    for device, seqs in report["seqs"].items():
        n = report["sent"][device]
        assert n >= min_events
        assert seqs == list(range(n)), f"{device}: lost or out of order"


def test_bridge_keeps_events_through_a_short_uplink_cut(venue_broker: dict[str, Any]) -> None:
    report = uplink_cut(venue_broker, cut_s=10.0)
    _check(report, min_events=100)
    _say(report, 10)


@pytest.mark.drill
def test_bridge_keeps_events_through_a_minute_without_uplink(
        venue_broker: dict[str, Any]) -> None:
    report = uplink_cut(venue_broker, cut_s=60.0)
    _check(report, min_events=600)
    _say(report, 60)


def _say(report: dict[str, Any], cut_s: int) -> None:
    print(f"bridge: events per gate {report['sent']} over a {cut_s} s cut, all at the central "
          f"broker in order {report['back_after_s']:.1f} s after it came back")
