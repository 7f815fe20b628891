"""Commands through the hub API over a real Mosquitto, to devices simulated by real MqttLinks: the
round trip, an offline device, a silent one, a failing one, retries, and the record of who sent
what (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from helpers_mqtt import wait_for
from hubkit import ADMIN_H, token

from hub.api.app import create_app
from hub.db import Database
from hub.ingest import MqttIngest
from hub.models import Device
from hub.ops.commands import Reason, Target, decide, outcome, resolve
from hub.ops.live import OpsLive, scrub
from hub.series import NotFound
from venue.clock import FakeClock
from venue.config import MqttSection
from venue.messages import Command, CommandResult
from venue.mqtt import MqttLink
from venue.topics import DeviceRef

SITE = "s1"


class Gate:
    """A gate's MQTT side: answers ``open`` (counting calls) and fails ``lock``."""

    def __init__(self, url: str, device: str = "gate-1") -> None:
        self.opened: list[Command] = []
        self.link = MqttLink(DeviceRef(SITE, "gate", device), MqttSection(url=url),
                             client_id=f"test-{device}-{id(self)}")
        self.link.on_command("open", self._open)
        self.link.on_command("lock", self._lock)

    def _open(self, cmd: Command) -> dict[str, Any]:
        self.opened.append(cmd)
        return {"opened": True, "pulse_ms": cmd.args.get("pulse_ms", 500)}

    def _lock(self, cmd: Command) -> dict[str, Any]:
        raise RuntimeError("relay driver not ready")

    def start(self) -> Gate:
        self.link.start()
        assert self.link.wait_subscribed(10)
        return self


@pytest.fixture
def live(broker: Any, clock: FakeClock) -> Iterator[OpsLive]:
    ops = OpsLive(MqttSection(url=broker.url), clock=clock)
    ops.start()
    assert ops.wait_ready(10)
    yield ops
    ops.stop()


def _client(db: Database, clock: FakeClock, live: OpsLive) -> Iterator[TestClient]:
    app = create_app(db, clock=clock, token_ttl=0.0)
    app.state.hub.extra["ops"] = live
    with TestClient(app) as c:
        yield c


@pytest.fixture
def hub(db: Database, clock: FakeClock, live: OpsLive) -> Iterator[TestClient]:
    """The API on SQLite (the record itself is checked on both backends below)."""
    yield from _client(db, clock, live)


@pytest.fixture
def hub_any(any_db: Database, clock: FakeClock, live: OpsLive) -> Iterator[TestClient]:
    yield from _client(any_db, clock, live)


def _known(live: OpsLive, device: str, state: str) -> None:
    wait_for(lambda: any(t.device == device and t.state == state for t in live.targets()),
             what=f"{device} {state} in the live view")


def test_open_round_trip_is_ok_and_recorded_with_who(
        hub_any: TestClient, live: OpsLive, broker: Any, any_db: Database,
        clock: FakeClock) -> None:
    hub = hub_any
    gate = Gate(broker.url).start()
    try:
        _known(live, "gate-1", "online")
        op = token(any_db, clock, "operator", "desk-1")
        r = hub.post("/api/v1/devices/gate-1/commands", headers=op,
                     json={"name": "open", "args": {"pulse_ms": 800}, "timeout_s": 5})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["result"] == "ok" and body["reason"] is None
        assert body["data"] == {"opened": True, "pulse_ms": 800}
        assert body["by"] == {"role": "operator", "device": "desk-1"}
        assert [c.id for c in gate.opened] == [body["id"]]
        assert gate.opened[0].by == "operator:desk-1"
        listed = hub.get("/api/v1/commands", params={"device": "gate-1"}, headers=op).json()
        rec = listed["commands"][0]
        assert (rec["id"], rec["name"], rec["args"], rec["result"]) == (
            body["id"], "open", {"pulse_ms": 800}, "ok")
        assert rec["by"] == {"role": "operator", "device": "desk-1"}
        assert rec["sent_at"] and rec["answered_at"]
    finally:
        gate.link.stop(1.0)


def test_retry_with_the_same_key_does_not_open_twice(
        hub: TestClient, live: OpsLive, broker: Any) -> None:
    gate = Gate(broker.url).start()
    try:
        _known(live, "gate-1", "online")
        body = {"name": "open", "idempotency_key": "desk-1-open-0001"}
        first = hub.post("/api/v1/devices/gate-1/commands", headers=ADMIN_H, json=body).json()
        again = hub.post("/api/v1/devices/gate-1/commands", headers=ADMIN_H, json=body).json()
        assert first["result"] == again["result"] == "ok"
        assert first["id"] == again["id"]
        assert len(gate.opened) == 1
    finally:
        gate.link.stop(1.0)


def test_a_device_error_comes_back_as_error_with_its_message(
        hub: TestClient, live: OpsLive, broker: Any) -> None:
    gate = Gate(broker.url).start()
    try:
        _known(live, "gate-1", "online")
        body = hub.post("/api/v1/devices/gate-1/commands", headers=ADMIN_H,
                        json={"name": "lock"}).json()
        assert body["result"] == "error" and body["reason"] == "device_error"
        assert "relay driver not ready" in body["message"]
    finally:
        gate.link.stop(1.0)


def test_offline_device_times_out_at_once_and_is_not_sent(
        hub: TestClient, live: OpsLive, broker: Any) -> None:
    gate = Gate(broker.url).start()
    gate.link.stop(1.0)  # a clean stop publishes the retained `offline`
    _known(live, "gate-1", "offline")
    body = hub.post("/api/v1/devices/gate-1/commands", headers=ADMIN_H,
                    json={"name": "open"}).json()
    assert body["result"] == "timeout" and body["reason"] == "offline"
    assert "offline" in body["message"] and body["answered_at"] is None
    # It was not queued at the broker either: the gate coming back does not open.
    back = Gate(broker.url).start()
    try:
        _known(live, "gate-1", "online")
        ping = hub.post("/api/v1/devices/gate-1/commands", headers=ADMIN_H,
                        json={"name": "ping"}).json()
        assert ping["result"] == "ok" and "pong" in ping["data"]
        assert back.opened == []
    finally:
        back.link.stop(1.0)
    results = [c["result"] for c in hub.get("/api/v1/commands", headers=ADMIN_H).json()[
        "commands"]]
    assert results == ["ok", "timeout"]


def test_silent_device_times_out_with_a_clear_message(
        hub: TestClient, live: OpsLive, broker: Any) -> None:
    # A device whose status says online but that does not listen to its commands (hung process).
    mute = MqttLink.observer(MqttSection(url=broker.url))
    mute.start()
    try:
        assert mute.wait_connected(10)
        status = b'{"state":"online","version":"1.0","started_at":"","role":"gate"}'
        mute.publish(DeviceRef(SITE, "gate", "gate-9").status(), status, retain=True)
        _known(live, "gate-9", "online")
        body = hub.post("/api/v1/devices/gate-9/commands", headers=ADMIN_H,
                        json={"name": "open", "timeout_s": 0.5}).json()
        assert body["result"] == "timeout" and body["reason"] == "no_answer"
        assert "did not answer 'open' within 0.5 s" in body["message"]
        mute.publish(DeviceRef(SITE, "gate", "gate-9").status(), b"", retain=True)
    finally:
        mute.stop(1.0)


def test_an_answer_after_the_timeout_is_written_on_the_record(
        hub: TestClient, live: OpsLive, broker: Any) -> None:
    gate = Gate(broker.url)
    release = threading.Event()

    def slow(cmd: Command) -> dict[str, Any]:
        release.wait(10)
        return {"reloaded": True}

    gate.link.on_command("reload", slow)
    gate.start()
    try:
        _known(live, "gate-1", "online")
        body = hub.post("/api/v1/devices/gate-1/commands", headers=ADMIN_H,
                        json={"name": "reload", "timeout_s": 0.3}).json()
        assert body["result"] == "timeout" and body["reason"] == "no_answer"
        release.set()

        def late() -> dict[str, Any] | None:
            rec: dict[str, Any] = hub.get("/api/v1/commands", headers=ADMIN_H).json()[
                "commands"][0]
            return rec if rec["answered_at"] else None
        rec = wait_for(late, what="the late answer on the record")
        assert rec["result"] == "timeout" and rec["data"] == {"reloaded": True}
        assert "answered after the timeout: ok" in rec["message"]
    finally:
        gate.link.stop(1.0)


def test_the_devices_table_is_enough_to_find_a_device(
        any_db: Database, clock: FakeClock, broker: Any, live: OpsLive) -> None:
    """The hub's ingest writes the devices table; a command finds the device there even when the
    live view has not heard of it (another site's filter, or a fresh hub)."""
    hub_link = MqttLink(DeviceRef(SITE, "hub", "hub1"), MqttSection(url=broker.url),
                        manual_ack=True, clock=clock, clean_start=True)
    ingest = MqttIngest(any_db, hub_link, clock=clock)
    ingest.start()
    hub_link.start()
    gate = Gate(broker.url, "gate-7").start()
    try:
        def stored() -> bool:
            with any_db.read() as s:
                row = s.get(Device, f"{SITE}/gate/gate-7")
                return row is not None and row.state == "online"
        wait_for(stored, what="gate-7 in the devices table")
        app = create_app(any_db, clock=clock, token_ttl=0.0)
        app.state.hub.extra["ops"] = live
        with TestClient(app) as c:
            body = c.post("/api/v1/devices/gate-7/commands", headers=ADMIN_H,
                          json={"name": "open"}).json()
        assert body["result"] == "ok" and (body["site"], body["role"]) == (SITE, "gate")
    finally:
        gate.link.stop(1.0)
        ingest.stop()
        hub_link.stop(1.0)


def test_without_mqtt_503_for_a_known_device_404_for_an_unknown_one(
        db: Database, clock: FakeClock) -> None:
    with db.write() as s:
        s.add(Device(key=f"{SITE}/gate/gate-1", site=SITE, role="gate", device="gate-1",
                     state="online"))
    with TestClient(create_app(db, clock=clock, token_ttl=0.0)) as c:
        r = c.post("/api/v1/devices/gate-1/commands", headers=ADMIN_H, json={"name": "open"})
        assert r.status_code == 503 and "without MQTT" in r.json()["detail"]
        r = c.post("/api/v1/devices/nope/commands", headers=ADMIN_H, json={"name": "open"})
        assert r.status_code == 404 and "nope" in r.json()["detail"]
        r = c.get("/api/v1/events/stream", headers=ADMIN_H)
        assert r.status_code == 503


def test_bad_requests_are_refused_clearly(db: Database, clock: FakeClock) -> None:
    with TestClient(create_app(db, clock=clock, token_ttl=0.0)) as c:
        r = c.post("/api/v1/devices/gate-1/commands", json={"name": "open"})
        assert r.status_code == 401
        v = token(db, clock, "validator", "phone-1")
        r = c.post("/api/v1/devices/gate-1/commands", headers=v, json={"name": "open"})
        assert r.status_code == 403
        r = c.post("/api/v1/devices/gate-1/commands", headers=ADMIN_H,
                   json={"name": "self-destruct"})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "name"]
        r = c.post("/api/v1/devices/gate-1/commands", headers=ADMIN_H,
                   json={"name": "open", "timeout_s": 3600})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "timeout_s"]
        r = c.post("/api/v1/devices/gate-1/commands", headers=ADMIN_H,
                   json={"name": "open", "args": {"x": "y" * 5000}})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "args"]
        r = c.post("/api/v1/devices/..%2Fx/commands", headers=ADMIN_H, json={"name": "open"})
        assert r.status_code in (404, 422)
        r = c.get("/api/v1/commands", headers=v)
        assert r.status_code == 403


def test_pure_rules() -> None:
    online = Target(SITE, "gate", "g1", "online")
    offline = Target(SITE, "gate", "g1", "offline")
    assert decide(online).send
    assert decide(offline) == decide(offline) and decide(offline).reason is Reason.OFFLINE
    assert resolve("g1", None, [online]) is online
    with pytest.raises(NotFound):
        resolve("g2", None, [online])
    other = Target("s2", "gate", "g1", "online")
    with pytest.raises(Exception) as exc:
        resolve("g1", None, [online, other])
    assert getattr(exc.value, "detail", {}).get("reason") == "ambiguous"
    assert resolve("g1", "s2", [online, other]) is other
    assert outcome(None, online, "open", 2.0)[:2] == ("timeout", Reason.NO_ANSWER)
    assert outcome(CommandResult("x", True), online, "open", 2.0) == ("ok", None, "")
    assert outcome(CommandResult("x", False, "jammed"), online, "open", 2.0) == (
        "error", Reason.DEVICE_ERROR, "jammed")


def test_scrub_masks_anything_like_a_phone_number() -> None:
    out = scrub({"phone": "+380671234567", "note": "+44 20 7946 0958", "ref": "7:42",
                 "items": [{"customer_phone": "0671234567"}], "count": 3})
    assert "1234567" not in repr(out) and "7946" not in repr(out)
    assert out["ref"] == "7:42" and out["count"] == 3


def test_waiter_ignores_other_ids_and_garbage() -> None:
    from hub.ops.commands import ResultWaiter

    w = ResultWaiter()
    w.expect("a")
    assert not w.deliver(b"not json")
    assert not w.deliver(CommandResult("b", True).encode())
    t = threading.Timer(0.05, lambda: w.deliver(CommandResult("a", True, data={"n": 1}).encode()))
    t.start()
    got = w.wait("a", 5)
    assert got is not None and got.data == {"n": 1}


def test_the_real_hub_process_commands_a_gate(broker: Any, tmp_path: Any) -> None:
    """``venue hub`` wires the live view in (hub/service.py): the API reaches a gate over MQTT."""
    import os
    import subprocess
    import sys

    import httpx
    from hubkit import ADMIN, free_port

    port = free_port()
    venue_bin = os.path.join(os.path.dirname(sys.executable), "venue")
    log = open(tmp_path / "hub.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [venue_bin, "hub", "--db", f"sqlite:///{tmp_path / 'hub.sqlite3'}", "--listen",
         f"127.0.0.1:{port}", "--mqtt", broker.url, "--admin-token", ADMIN],
        env={**os.environ, "VENUE_DEVICE__DATA_DIR": str(tmp_path / "data")},
        stdout=log, stderr=log)
    gate = Gate(broker.url, "gate-3").start()
    try:
        url = f"http://127.0.0.1:{port}"

        def overview() -> dict[str, Any] | None:
            if proc.poll() is not None:
                raise AssertionError((tmp_path / "hub.log").read_text())
            try:
                o: dict[str, Any] = httpx.get(f"{url}/api/v1/ops/overview", headers=ADMIN_H,
                                              timeout=2).json()
            except httpx.HTTPError:
                return None
            return o if o["live"] and any(d["device"] == "gate-3" for d in o["devices"]) else None
        wait_for(overview, timeout=30, what="the hub's live view to know gate-3")
        r = httpx.post(f"{url}/api/v1/devices/gate-3/commands", headers=ADMIN_H,
                       json={"name": "open"}, timeout=10)
        assert r.status_code == 200 and r.json()["result"] == "ok", r.text
        assert len(gate.opened) == 1
        assert httpx.get(f"{url}/dashboard").status_code == 200
        # A dashboard left open holds an event stream; the hub must still stop promptly.
        first: list[str] = []

        def listen() -> None:
            try:
                with httpx.stream("GET", f"{url}/api/v1/events/stream", headers=ADMIN_H,
                                  timeout=None) as r:
                    for line in r.iter_lines():
                        first.append(line)
            except httpx.HTTPError:
                pass
        threading.Thread(target=listen, daemon=True).start()
        wait_for(lambda: any(line.startswith("data: ") for line in first),
                 what="the event stream")
        proc.terminate()
        proc.wait(20)  # TimeoutExpired fails the test; the cleanup below kills it
    finally:
        gate.link.stop(1.0)
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        log.close()
