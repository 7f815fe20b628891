"""End to end: real Mosquitto, real hub (``venue hub`` subprocess), real gate daemon subprocess
(``venue gate``) with mock pins whose changes go to a trace file, codes fed on stdin and on a pty.
"""

from __future__ import annotations

import json
import os
import time
import tty
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from gatekit import GateProc, HubProc, gate_toml, pulses
from helpers_mqtt import Collector, wait_for

from venue.messages import Command, Event, parse_time

NOISE = bytes(range(256)) * 4
LONG = b"A" * 10_000
BROKEN_UTF8 = b"V1ABC\xc3\x28\xa0\xa1DEF"


class Watch:
    """Collects one site's gate events and command results from the broker."""

    def __init__(self, port: int) -> None:
        self.c = Collector(port, "venue/v1/s1/gate/+/event/#", "venue/v1/s1/gate/+/cmd_result",
                           "venue/v1/s1/gate/+/status", "venue/v1/s1/hub/+/event/#",
                           "venue/v1/s1/gate/+/telemetry")
        self.c.wait_subscribed()
        self.port = port

    def events(self, type_: str, device: str | None = None) -> list[Event]:
        out = []
        for m in self.c.all():
            if "/event/" in m.topic and m.topic.endswith("/" + type_):
                ev = Event.decode(m.payload)
                if device is None or ev.device == device:
                    out.append(ev)
        return out

    def scans(self, device: str = "g1") -> list[dict[str, Any]]:
        """``gate.scan`` data, one per event id (QoS 1 may deliver an event twice)."""
        seen: dict[str, dict[str, Any]] = {}
        for ev in self.events("gate.scan", device):
            seen.setdefault(ev.id, ev.data)
        return list(seen.values())

    def wait_scans(self, n: int, device: str = "g1", timeout: float = 15.0) -> list[dict[str, Any]]:
        return wait_for(lambda: len(self.scans(device)) >= n and self.scans(device), timeout,
                        f"{n} gate.scan events from {device}")

    def online(self, device: str) -> bool:
        msgs = self.c.on(f"venue/v1/s1/gate/{device}/status")
        return bool(msgs) and json.loads(msgs[-1].payload)["state"] == "online"

    def command(self, device: str, name: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send a command and wait for its result.

        Sent again (with a new id) if unanswered: the gate announces ``online`` before its
        ``cmd/+`` subscription is in place, so a command sent right after may find nobody.
        """
        for _ in range(5):
            cmd = Command(name=name, args=args or {}, by="test-operator")
            self.c.publish(f"venue/v1/s1/gate/{device}/cmd/{name}", cmd.encode())

            def result(cmd: Command = cmd) -> dict[str, Any] | None:
                for m in self.c.on(f"venue/v1/s1/gate/{device}/cmd_result"):
                    body = json.loads(m.payload)
                    if body["id"] == cmd.id:
                        return dict(body)
                return None

            try:
                return dict(wait_for(result, 2, f"result of {name}"))
            except AssertionError:
                continue
        raise AssertionError(f"{device} never answered {name}")

    def close(self) -> None:
        self.c.close()


@pytest.fixture
def watch(broker) -> Any:
    w = Watch(broker.port)
    yield w
    w.close()


@pytest.fixture
def hub(broker, tmp_path: Path) -> Any:
    h = HubProc(tmp_path, broker.url)
    h.start()
    yield h
    h.stop()


def _t(value: str | None) -> datetime:
    assert value is not None
    return parse_time(value)


def test_stdin_and_serial_end_to_end(broker, hub, watch, tmp_path: Path) -> None:
    single = hub.series(name="Concert", issue_count=3)
    a0, a1, _ = (c["code"] for c in single["codes"])
    hub.api("POST", f"/codes/{single['codes'][1]['ref']}/revoke")
    expired = hub.series(name="Old", valid_from="2020-01-01T00:00:00Z",
                         valid_until="2020-01-02T00:00:00Z", issue_count=1)
    e0 = expired["codes"][0]["code"]
    apb = hub.series(name="Stadium", entry_rule="antipassback", issue_count=1)
    p0 = apb["codes"][0]["code"]

    master, slave = os.openpty()
    tty.setraw(slave)
    trace = tmp_path / "pins-g1.log"
    cfg = gate_toml(
        tmp_path / "g1.toml", device="g1", data_dir=tmp_path / "g1", mqtt_url=broker.url,
        hub_url=hub.url, token=hub.token("g1"), trace=trace,
        extra_scanners=f'\n[[scanner]]\nkind = "serial"\nport = "{os.ttyname(slave)}"\n'
                       'direction = "out"\nreconnect_s = 0.2\n',
    )
    gate = GateProc(cfg, tmp_path)
    try:
        wait_for(lambda: watch.online("g1"), 20, "gate g1 online")
        gate.send(a0, a0)  # the second read is the same presentation: de-bounced
        first = watch.wait_scans(1)[0]
        assert (first["result"], first["reason"], first["offline"]) == ("admit", "ok", False)
        assert first["ticket"]["ref"] == single["codes"][0]["ref"]
        assert first["source"] == "stdin" and first["direction"] == "in"
        gate.send(a1, e0, "hello, not a ticket")
        watch.wait_scans(4)  # two readers feed one queue: keep the order of this test fixed
        os.write(master, NOISE + b"\r\n" + LONG + b"\r\n" + BROKEN_UTF8 + b"\r\n" + p0.encode()
                 + b"\r\n")
        got = watch.wait_scans(5)
        time.sleep(0.6)  # let the de-bounce window pass (setup, not an assertion)
        gate.send(a0)
        got = watch.wait_scans(6)
        assert [(s["result"], s["reason"]) for s in got] == [
            ("admit", "ok"),
            ("reject", "revoked"),
            ("reject", "expired"),
            ("reject", "invalid"),
            ("reject", "wrong_direction"),
            ("reject", "already_used"),
        ]
        assert got[4]["source"] == "serial" and got[4]["direction"] == "out"
        again = got[5]
        assert again["first_gate"] == "g1"
        assert abs((_t(again["first_used_at"]) - _t(first["scanned_at"])).total_seconds()) < 0.01
        assert len({s["nonce"] for s in got}) == 6
        # One relay pulse: the one admission.
        wait_for(lambda: pulses(trace) == 1, 10, "one relay pulse")
        # Garbage on the serial line was counted and the daemon keeps running.
        pong = watch.command("g1", "ping")
        assert pong["ok"] is True, pong
        assert pong["data"]["garbage_total"] >= 3
        assert pong["data"]["admits"] == 1 and pong["data"]["rejects"] == 5
        assert pong["data"]["debounced"] == 1
        # Passages are reported (no rotation sensor fitted: an admission counts as passed).
        passages = wait_for(lambda: watch.events("gate.passage", "g1"), 10, "gate.passage")
        assert passages[0].data["nonce"] == first["nonce"] and passages[0].data["passed"] is True
        # Never a ticket secret in anything the gate published.
        for m in watch.c.all():
            for secret in (a0, a1, e0, p0):
                assert secret.encode() not in m.payload
    finally:
        gate.stop()
        os.close(master)
        os.close(slave)
    assert hub.code(single["codes"][0]["ref"])["entries_used"] == 1


def _refreshes(watch: Watch, device: str) -> int:
    return int(watch.command(device, "ping")["data"]["replica_refreshes"])


def _wait_refreshed(watch: Watch, device: str, start: int) -> None:
    wait_for(lambda: _refreshes(watch, device) > start, 15, f"{device} replica refresh")


def test_hub_down_mid_stream_offline_then_reconciled(broker, hub, watch, tmp_path: Path) -> None:
    s = hub.series(name="Festival", issue_count=7)
    refs = [c["ref"] for c in s["codes"]]
    x = [c["code"] for c in s["codes"]]
    gates: dict[str, GateProc] = {}
    for g in ("g1", "g2"):
        cfg = gate_toml(tmp_path / f"{g}.toml", device=g, data_dir=tmp_path / g,
                        mqtt_url=broker.url, hub_url=hub.url, token=hub.token(g),
                        trace=tmp_path / f"pins-{g}.log", refresh_s=300.0)
        gates[g] = GateProc(cfg, tmp_path)
    g1, g2 = gates["g1"], gates["g2"]
    try:
        for g in gates:
            wait_for(lambda g=g: watch.online(g), 20, f"{g} online")
        for g in gates:  # the first (full) replica
            wait_for(lambda g=g: _refreshes(watch, g) >= 1, 15, f"{g} replica")
        g1.send(x[0])
        assert watch.wait_scans(1, "g1")[0]["offline"] is False
        # An operator asks g2 to refresh: its replica now lists x0 as used at g1.
        start = _refreshes(watch, "g2")
        assert watch.command("g2", "refresh-replica")["ok"] is True
        _wait_refreshed(watch, "g2", start)
        # A revocation makes the hub hint every gate to refresh at once (no periodic refresh
        # is due for minutes here).
        start = _refreshes(watch, "g1")
        hub.api("POST", f"/codes/{refs[6]}/revoke")
        _wait_refreshed(watch, "g1", start)

        # The hub hangs (accepts connections, answers nothing): one budget, then offline.
        os.kill(hub.proc.pid, 19)  # SIGSTOP
        g1.send(x[1])
        d = watch.wait_scans(2, "g1")[1]
        assert (d["result"], d["offline"]) == ("admit", True)
        assert d["latency_ms"] < 250 + 150, d  # the budget plus scheduling slack
        hub.kill()  # and now it is gone for good
        time.sleep(0.6)  # past the de-bounce window (setup, not an assertion)
        g1.send(x[1], x[2], x[6])
        g2.send(x[0])
        watch.wait_scans(1, "g2")
        g2.send(x[2], x[3])
        s1, s2 = watch.wait_scans(5, "g1"), watch.wait_scans(3, "g2")
        assert [(e["result"], e["reason"], e["offline"]) for e in s1[2:]] == [
            ("reject", "already_used", True), ("admit", "ok", True),
            ("reject", "revoked", True)]
        assert [(e["result"], e["reason"], e["offline"]) for e in s2] == [
            ("reject", "already_used", True), ("admit", "ok", True), ("admit", "ok", True)]
        assert s2[0]["first_gate"] == "g1"  # known from the replica, not from g2's own log
        assert s1[2]["first_used_at"] is not None and s1[2]["first_gate"] == "g1"
        wait_for(lambda: pulses(tmp_path / "pins-g1.log") == 3
                 and pulses(tmp_path / "pins-g2.log") == 2, 10, "relay pulses 3 + 2")
        assert watch.command("g1", "ping")["data"]["offline"] is True

        # The hub comes back: every offline admission is applied once, the double one flagged.
        hub.start()
        wait_for(lambda: hub.code(refs[1])["entries_used"] == 1
                 and hub.code(refs[3])["entries_used"] == 1
                 and len(hub.code(refs[2])["attempts"]) == 2, 20, "offline uploads applied")
        wait_for(lambda: watch.command("g1", "ping")["data"]["offline"] is False, 15,
                 "g1 back online")
        conflicts = hub.api("GET", "/conflicts")
        assert [c["ref"] for c in conflicts] == [refs[2]]
        assert sorted(conflicts[0]["gates"]) == ["g1", "g2"]
        alerts = wait_for(lambda: [e for e in watch.events("hub.alert")
                                   if e.data.get("kind") == "offline_conflict"], 10, "alert")
        assert alerts[0].data["ref"] == refs[2]
        g1.send(x[4])
        back = watch.wait_scans(6, "g1")[5]
        assert (back["result"], back["offline"]) == ("admit", False)
        # Once each: every nonce the gates admitted offline is one hub attempt.
        offline_nonces = {e["nonce"] for g in ("g1", "g2") for e in watch.scans(g)
                          if e["offline"] and e["result"] == "admit"}
        hub_attempts = [a for r in refs for a in hub.code(r)["attempts"] if a["offline"]]
        assert sorted(a["nonce"] for a in hub_attempts) == sorted(offline_nonces)
    finally:
        for p in gates.values():
            p.stop()
