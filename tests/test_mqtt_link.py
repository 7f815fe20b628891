"""The MQTT link against a real Mosquitto: status, durable delivery, commands, subscriptions."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers_mqtt import Collector, wait_for

from venue.clock import SYSTEM_CLOCK
from venue.config import MqttSection
from venue.errors import ConfigError
from venue.messages import Command, CommandResult, Event, Status
from venue.mqtt import InboundMessage, MqttLink, parse_url
from venue.mqtt_workers import topic_matches
from venue.outbox import Outbox
from venue.topics import DeviceRef

GATE = DeviceRef("s1", "gate", "g1")
FAST = {"reconnect_delay": (0.1, 0.5)}


@pytest.fixture
def links() -> Iterator[Callable[..., MqttLink]]:
    """Make started links; all stopped at teardown."""
    made: list[MqttLink] = []

    def make(
        url: str, ref: DeviceRef = GATE, keepalive: int = 5, start: bool = True, **kw: Any
    ) -> MqttLink:
        link = MqttLink(ref, MqttSection(url=url, keepalive=keepalive), **{**FAST, **kw})
        made.append(link)
        if start:
            link.start()
        return link

    yield make
    for link in made:
        link.stop(timeout=1.0)


@pytest.fixture
def collectors() -> Iterator[Callable[..., Collector]]:
    made: list[Collector] = []

    def make(port: int, *filters: str, **kw: Any) -> Collector:
        c = Collector(port, *filters, **kw)
        made.append(c)
        c.wait_subscribed()
        return c

    yield make
    for c in made:
        c.close()


def persistent_broker(broker_factory: Any) -> Any:
    """A broker that keeps sessions across its own restart, like a production one."""
    b = broker_factory("allow_anonymous true\n")
    b.stop()
    # `user root`: when the tests run as root, do not drop to `mosquitto`, which cannot write
    # into pytest's private temp dir (ignored when not root).
    # `max_queued_messages` as provisioning writes it: Mosquitto's default (1000) drops what a
    # reconnecting device's backlog sends to a subscriber that is itself still reconnecting.
    b.extra_conf = (
        f"allow_anonymous true\npersistence true\npersistence_location {b.workdir}/\nuser root\n"
        "max_queued_messages 200000\n"
    )
    b.start()
    return b


def event_ids(messages: list[Any]) -> list[str]:
    return [Event.decode(m.payload).id for m in messages]


@pytest.mark.parametrize(
    ("flt", "topic", "expected"),
    [
        ("a/+/c", "a/b/c", True),
        ("a/#", "a", True),
        ("a/#", "a/b/c", True),
        ("a/+", "a/b/c", False),
        ("a/b", "a/b/c", False),
        ("$share/hub/venue/v1/+/gate/+/event/#", "venue/v1/s1/gate/g1/event/gate.scan", True),
        ("$share/hub/venue/v1/+/kiosk/#", "venue/v1/s1/gate/g1/event/x", False),
        ("#", "$SYS/broker/uptime", False),
    ],
)
def test_topic_matches(flt: str, topic: str, expected: bool) -> None:
    assert topic_matches(flt, topic) is expected


def test_parse_url() -> None:
    assert parse_url("mqtt://h:1884") == ("h", 1884, False)
    assert parse_url("mqtts://broker.example") == ("broker.example", 8883, True)
    assert parse_url("mqtt://10.0.0.2") == ("10.0.0.2", 1883, False)
    for bad in ("http://h", "h:1883", "mqtt://", "mqtt://h:port"):
        with pytest.raises(ConfigError, match=r"mqtt\.url"):
            parse_url(bad)


def test_status_online_on_connect_and_offline_on_clean_stop(
    broker: Any, links: Any, collectors: Any
) -> None:
    col = collectors(broker.port, GATE.status())
    link = links(broker.url, status_extra=lambda: {"queue": 3})
    assert link.wait_connected(10)
    online = wait_for(lambda: col.on(GATE.status()), what="online status")
    st = Status.decode(online[0].payload)
    assert (st.state, st.role, st.extra["queue"], st.extra["device"]) == ("online", "gate", 3, "g1")
    link.stop(timeout=2)
    wait_for(lambda: len(col.on(GATE.status())) == 2, what="offline status")
    assert Status.decode(col.on(GATE.status())[-1].payload).state == "offline"
    # the status is retained: a newcomer learns it at once
    late = collectors(broker.port, GATE.status())
    msg = wait_for(lambda: late.on(GATE.status()), what="retained status")[0]
    assert msg.retain and Status.decode(msg.payload).state == "offline"


def test_online_republished_after_broker_restart(broker: Any, links: Any, collectors: Any) -> None:
    link = links(broker.url)
    assert link.wait_connected(10)
    broker.restart()  # no persistence: the retained status is gone with the old broker
    wait_for(lambda: link.stats()["reconnects"] >= 1, what="reconnect")
    col = collectors(broker.port, GATE.status())
    msg = wait_for(lambda: col.on(GATE.status()), what="status after reconnect")[0]
    assert msg.retain and Status.decode(msg.payload).state == "online"


def test_events_published_while_broker_down_arrive_in_order(
    broker_factory: Any, links: Any, collectors: Any, tmp_path: Path
) -> None:
    b = persistent_broker(broker_factory)
    col = collectors(b.port, "venue/v1/s1/gate/+/event/#", client_id="hub-sub", clean=False)
    link = links(b.url, outbox=Outbox(tmp_path / "outbox.db"))
    assert link.wait_connected(10)
    first = link.publish_event("gate.scan", {"n": 0})
    wait_for(lambda: len(col.all()) == 1, what="event while online")
    b.stop()
    wait_for(lambda: not link.connected, what="link to notice the outage")
    sent = [link.publish_event("gate.scan", {"n": i}) for i in range(1, 31)]
    assert link.outbox.depth() == 30  # all of them durable while the broker is away
    b.start()
    wait_for(lambda: len(col.all()) >= 31, timeout=20, what="events after the outage")
    assert event_ids(col.all()) == [first.id] + [e.id for e in sent]
    assert link.wait_drained(10)
    assert link.stats()["acked"] >= 31


def test_order_kept_across_a_broker_restart_mid_stream(
    broker_factory: Any, links: Any, collectors: Any, tmp_path: Path
) -> None:
    """Messages paho had in flight when the connection dropped go out before newer ones."""
    b = persistent_broker(broker_factory)
    col = collectors(b.port, "venue/v1/s1/gate/+/event/#", client_id="hub-sub2", clean=False)
    link = links(b.url, outbox=Outbox(tmp_path / "outbox.db"))
    assert link.wait_connected(10)
    ids = [link.publish_event("gate.scan", {"n": i}).id for i in range(1500)]
    wait_for(lambda: link.stats()["acked"] >= 100, what="some acked before the restart")
    b.restart()
    ids += [link.publish_event("gate.scan", {"n": i}).id for i in range(1500, 2000)]
    wait_for(lambda: set(ids) <= set(event_ids(col.all())), timeout=30, what="all 2000 events")
    assert list(dict.fromkeys(event_ids(col.all()))) == ids


PUBLISHER = textwrap.dedent(
    """
    import sys, time
    from venue.config import MqttSection
    from venue.mqtt import MqttLink
    from venue.outbox import Outbox
    from venue.topics import DeviceRef
    url, path, n, keepalive = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    link = MqttLink(DeviceRef("s1", "gate", "g1"), MqttSection(url=url, keepalive=keepalive),
                    outbox=Outbox(path), reconnect_delay=(0.1, 0.5))
    link.start()
    if n == 0:
        print("connected" if link.wait_connected(10) else "not connected", flush=True)
    for i in range(n):
        print(link.publish_event("gate.scan", {"n": i}).id, flush=True)
    print("done", flush=True)
    time.sleep(60)
    """
)


def spawn_publisher(url: str, outbox: Path, n: int, keepalive: int = 5) -> tuple[Any, list[str]]:
    """Run a link in a child process; return it and what it printed up to ``done``."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(
        [sys.executable, "-c", PUBLISHER, url, str(outbox), str(n), str(keepalive)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == "done":
            return proc, lines
        lines.append(line.strip())
    raise AssertionError(f"publisher exited early: {lines}")


def kill9(proc: Any) -> None:
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(10) == -signal.SIGKILL


def test_events_queued_before_kill_9_are_delivered_after_restart(
    broker: Any, links: Any, collectors: Any, tmp_path: Path
) -> None:
    path = tmp_path / "outbox.db"
    broker.stop()  # nothing can be sent: everything is only in the outbox when the process dies
    proc, ids = spawn_publisher(broker.url, path, 40)
    kill9(proc)
    assert len(ids) == 40
    broker.start()
    col = collectors(broker.port, "venue/v1/s1/gate/+/event/#")
    link = links(broker.url, outbox=Outbox(path))
    wait_for(lambda: len(col.all()) >= 40, what="events of the killed process")
    assert event_ids(col.all()) == ids
    assert link.wait_drained(10) and link.outbox.depth() == 0


def test_kill_9_mid_stream_loses_nothing_and_keeps_order(
    broker: Any, links: Any, collectors: Any, tmp_path: Path
) -> None:
    path = tmp_path / "outbox.db"
    col = collectors(broker.port, "venue/v1/s1/gate/+/event/#")
    proc, ids = spawn_publisher(broker.url, path, 400)  # killed while sending
    kill9(proc)
    links(broker.url, outbox=Outbox(path))
    wait_for(lambda: set(ids) <= set(event_ids(col.all())), what="all 400 events")
    seen = list(dict.fromkeys(event_ids(col.all())))  # at least once: drop resent duplicates
    assert seen == ids


def test_status_flips_offline_when_process_dies_without_goodbye(
    broker: Any, collectors: Any, tmp_path: Path
) -> None:
    col = collectors(broker.port, GATE.status())
    proc, lines = spawn_publisher(broker.url, tmp_path / "o.db", 0, keepalive=2)
    assert lines == ["connected"]
    wait_for(lambda: col.on(GATE.status()), what="online")
    assert Status.decode(col.on(GATE.status())[0].payload).state == "online"
    kill9(proc)
    wait_for(lambda: len(col.on(GATE.status())) >= 2, timeout=2 * 1.5 + 5, what="Last Will")
    assert Status.decode(col.on(GATE.status())[-1].payload).state == "offline"
    late = collectors(broker.port, GATE.status())
    msg = wait_for(lambda: late.on(GATE.status()), what="retained offline")[0]
    assert msg.retain and Status.decode(msg.payload).state == "offline"


def test_status_flips_offline_when_process_hangs_past_keepalive(
    broker: Any, collectors: Any, tmp_path: Path
) -> None:
    """A frozen process keeps its TCP connection open: the broker's keepalive (1.5 x) catches it."""
    col = collectors(broker.port, GATE.status())
    proc, lines = spawn_publisher(broker.url, tmp_path / "o.db", 0, keepalive=2)
    try:
        assert lines == ["connected"]
        wait_for(lambda: col.on(GATE.status()), what="online")
        proc.send_signal(signal.SIGSTOP)
        wait_for(lambda: len(col.on(GATE.status())) >= 2, timeout=2 * 1.5 + 5, what="Last Will")
        assert Status.decode(col.on(GATE.status())[-1].payload).state == "offline"
    finally:
        kill9(proc)


def results(col: Collector) -> dict[str, CommandResult]:
    return {r.id: r for r in (CommandResult.decode(m.payload) for m in col.on(GATE.cmd_result()))}


def test_commands_are_answered_with_their_id(broker: Any, links: Any, collectors: Any) -> None:
    link = links(broker.url)
    opened: list[Command] = []

    def open_(cmd: Command) -> dict[str, Any]:
        opened.append(cmd)
        return {"opened": True}

    link.on_command("open", open_)
    link.on_command("lock", lambda cmd: CommandResult(cmd.id, False, "jammed"))

    def broken(cmd: Command) -> None:
        raise RuntimeError("relay missing")

    link.on_command("unlock", broken)
    assert link.wait_subscribed(10)
    col = collectors(broker.port, GATE.cmd_result())
    cmds = {
        "open": Command("open", {"by": "op"}, by="alice"),
        "lock": Command("lock"),
        "unlock": Command("unlock"),
        "reboot": Command("reboot"),
        "ping": Command("ping"),
    }
    for name, cmd in cmds.items():
        col.publish(GATE.cmd(name), cmd.encode())
    got = wait_for(lambda: len(r := results(col)) == 5 and r, what="five results")
    assert got[cmds["open"].id] == CommandResult(cmds["open"].id, True, None, {"opened": True})
    assert opened[0].by == "alice" and opened[0].args == {"by": "op"}
    assert got[cmds["lock"].id].error == "jammed" and not got[cmds["lock"].id].ok
    assert not got[cmds["unlock"].id].ok and "relay missing" in str(got[cmds["unlock"].id].error)
    assert got[cmds["reboot"].id] == CommandResult(cmds["reboot"].id, False, "unknown command")
    assert got[cmds["ping"].id].ok and "pong" in got[cmds["ping"].id].data
    assert link.stats()["handler_errors"] == 1


def test_malformed_command_is_counted_logged_and_link_keeps_running(
    broker: Any, links: Any, collectors: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="venue.mqtt")
    link = links(broker.url)
    link.on_command("open", lambda cmd: {"ok": 1})
    assert link.wait_subscribed(10)
    col = collectors(broker.port, GATE.cmd_result())
    col.publish(GATE.cmd("open"), b"\xff\xfe garbage")
    col.publish(GATE.cmd("open"), b'{"no_id": true}')
    col.publish(GATE.cmd("open"), b'{"id": "c-bad", "args": [1, 2]}')
    wait_for(lambda: link.stats()["malformed"] == 3, what="three malformed counted")
    assert "not_utf8" in caplog.text and "missing_field" in caplog.text
    assert all(r.levelno == logging.WARNING for r in caplog.records if "malformed" in r.message)
    good = Command("open")
    col.publish(GATE.cmd("open"), good.encode())
    got = wait_for(lambda: good.id in (r := results(col)) and r, what="valid command answered")
    assert got[good.id].ok
    assert got["c-bad"] == CommandResult("c-bad", False, "malformed command")  # it had an id
    assert len(got) == 2  # the two without an id got no answer


def test_subscribe_counts_bad_payloads_and_handler_errors(
    broker: Any, links: Any, collectors: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="venue.mqtt")
    hub = links(broker.url, ref=DeviceRef("s1", "hub", "h1"))
    seen: list[str] = []

    def handler(msg: InboundMessage) -> None:
        if msg.payload == b"boom":
            raise RuntimeError("bug")
        seen.append(Event.decode(msg.payload).type)  # PayloadError on garbage

    hub.subscribe("venue/v1/+/gate/+/event/#", handler)
    assert hub.wait_subscribed(10)
    pub = collectors(broker.port, "unused/topic")
    good = Event.new("s1", "g1", "gate.scan", {}, when=SYSTEM_CLOCK.now()).encode()
    for payload in (b"not json", b"boom", good):
        pub.publish(GATE.event("gate.scan"), payload)
    wait_for(lambda: seen == ["gate.scan"], what="valid event after bad ones")
    assert hub.stats()["malformed"] == 1 and hub.stats()["handler_errors"] == 1
    warned = [r for r in caplog.records if "malformed payload" in r.getMessage()]
    assert len(warned) == 1 and warned[0].levelno == logging.WARNING
    assert "not_json" in warned[0].getMessage()
    assert any("RuntimeError: bug" in (r.exc_text or "") for r in caplog.records)


def test_shared_subscription_splits_events_between_hub_replicas(
    broker: Any, links: Any
) -> None:
    got: dict[str, list[str]] = {"h1": [], "h2": []}
    for name in got:
        hub = links(broker.url, ref=DeviceRef("s1", "hub", name))
        hub.subscribe(
            "$share/hub/venue/v1/+/gate/+/event/#",
            lambda m, name=name: got[name].append(Event.decode(m.payload).id),
        )
        assert hub.wait_subscribed(10)
    gate = links(broker.url)
    assert gate.wait_connected(10)
    ids = [gate.publish_event("gate.scan", {"n": i}).id for i in range(40)]
    wait_for(lambda: len(got["h1"]) + len(got["h2"]) == 40, what="40 shared deliveries")
    assert sorted(got["h1"] + got["h2"]) == sorted(ids)
    assert got["h1"] and got["h2"]  # both replicas took a share


def test_a_subscription_made_while_the_link_connects_is_not_lost(
    broker: Any, links: Any, collectors: Any
) -> None:
    """subscribe() between on_connect's SUBSCRIBE snapshot and ``connected`` still subscribes.

    Found as a flaky shared-subscription test: a replica whose subscribe() fell in that window
    was in neither the snapshot nor sent itself, yet wait_subscribed() said yes. The window is
    entered deterministically here: the status payload is built in it.
    """
    got: list[bytes] = []
    link = links(broker.url, ref=DeviceRef("s1", "hub", "h1"), start=False)
    build_status = link._status

    def status_then_subscribe(state: str) -> bytes:
        if state == "online" and not link._subs:
            link.subscribe("t/late", lambda m: got.append(m.payload))
        return build_status(state)

    link._status = status_then_subscribe  # type: ignore[method-assign]
    link.start()
    assert link.wait_subscribed(10)
    pub = collectors(broker.port, "nothing/#")
    pub.client.publish("t/late", b"x", qos=1)
    wait_for(lambda: got == [b"x"], what="the message on the late subscription")


def test_manual_ack_holds_the_puback_until_the_handler_acks(
    broker_factory: Any, links: Any, collectors: Any
) -> None:
    b = broker_factory("allow_anonymous true\nmax_inflight_messages 1\n")
    pending: list[InboundMessage] = []
    hub = links(b.url, ref=DeviceRef("s1", "hub", "h1"), manual_ack=True)
    hub.subscribe("t/#", pending.append)
    assert hub.wait_subscribed(10)
    pub = collectors(b.port, "unused")
    pub.publish("t/1", b"1")
    pub.publish("t/2", b"2")
    wait_for(lambda: len(pending) == 1, what="first message")
    # the broker sends one unacked message at a time: the second waits for our ack
    with pytest.raises(AssertionError):
        wait_for(lambda: len(pending) > 1, timeout=0.5, what="second before ack")
    pending[0].ack()
    pending[0].ack()  # harmless
    wait_for(lambda: len(pending) == 2, what="second after ack")
    assert [m.payload for m in pending] == [b"1", b"2"]


def test_telemetry_is_qos0_and_dropped_when_offline(
    broker: Any, links: Any, collectors: Any
) -> None:
    link = MqttLink(GATE, MqttSection(url=broker.url), reconnect_delay=(0.1, 0.5))
    link.publish_telemetry({"cpu": 40})
    assert link.stats()["dropped_telemetry"] == 1
    col = collectors(broker.port, GATE.telemetry())
    link.start()
    try:
        assert link.wait_connected(10)
        link.publish_telemetry({"cpu": 41})
        msg = wait_for(lambda: col.on(GATE.telemetry()), what="telemetry")[0]
        assert json.loads(msg.payload) == {"cpu": 41}
        assert link.stats()["telemetry_sent"] == 1
        assert link.outbox.depth() == 0  # telemetry never enters the outbox
    finally:
        link.stop(1)


def test_credentials_from_settings(broker_factory: Any, tmp_path: Path) -> None:
    pw = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(pw), "g1", "s3cret"], check=True)
    b = broker_factory(f"allow_anonymous false\npassword_file {pw}\nuser root\n")
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    ok = MqttLink(GATE, MqttSection(url=b.url, username="g1", password_file=str(secret)))
    bad = MqttLink(
        DeviceRef("s1", "gate", "g2"), MqttSection(url=b.url, username="g1", password="wrong")
    )
    for link in (ok, bad):
        link.start()
    try:
        assert ok.wait_connected(10)
        assert not bad.wait_connected(1)
    finally:
        ok.stop(1)
        bad.stop(1)


def test_publish_raw_durable_and_not(broker: Any, links: Any, collectors: Any) -> None:
    col = collectors(broker.port, "homeassistant/#")
    link = links(broker.url, start=False)
    link.when_connected(lambda: link.publish("homeassistant/device/g1/config", b"{}", retain=True))
    link.start()
    assert link.wait_connected(10)
    link.publish("homeassistant/x", b"d", durable=True)
    wait_for(lambda: len(col.all()) == 2, what="discovery and durable raw")
    assert {m.topic for m in col.all()} == {"homeassistant/device/g1/config", "homeassistant/x"}


def test_bad_event_data_is_refused_before_queueing(broker: Any) -> None:
    link = MqttLink(GATE, MqttSection(url=broker.url))
    with pytest.raises(ValueError):
        link.publish_event("gate.scan", {"phone": "+380671234567"})
    with pytest.raises(ValueError):
        link.publish_event("Bad Type", {})
    assert link.outbox.depth() == 0


def test_observer_watches_and_commands_without_a_status_of_its_own(
    broker: Any, links: Any, collectors: Any
) -> None:
    everything = collectors(broker.port, "venue/#")
    gate = links(broker.url)
    gate.on_command("open", lambda cmd: {"opened": True})
    assert gate.wait_subscribed(10)
    obs = MqttLink.observer(MqttSection(url=broker.url), reconnect_delay=(0.1, 0.5))
    seen: list[InboundMessage] = []
    obs.subscribe("venue/v1/s1/+/+/status", seen.append)
    obs.subscribe(GATE.cmd_result(), seen.append)
    obs.start()
    try:
        assert obs.wait_subscribed(10)
        wait_for(lambda: [m for m in seen if m.retain], what="retained status of the gate")
        cmd = Command("open")
        obs.publish(GATE.cmd("open"), cmd.encode())
        wait_for(
            lambda: any(m.topic == GATE.cmd_result() for m in seen), what="result to the observer"
        )
    finally:
        obs.stop(1)
    topics = {m.topic for m in everything.all()}
    assert topics == {GATE.status(), GATE.cmd("open"), GATE.cmd_result()}  # nothing of its own
    assert obs.client_id.startswith("observer-")


def test_fake_clock_stamps_events_and_does_not_stall_waits(
    broker: Any, links: Any, collectors: Any
) -> None:
    from venue.clock import FakeClock

    clock = FakeClock()
    col = collectors(broker.port, GATE.event("gate.scan"))
    link = links(broker.url, clock=clock)
    assert link.wait_subscribed(10)
    event = link.publish_event("gate.scan", {})
    assert event.ts == "2026-01-01T12:00:00.000Z"
    assert link.wait_drained(10)
    assert Event.decode(wait_for(lambda: col.all(), what="event")[0].payload).ts == event.ts
    broker.stop()
    wait_for(lambda: not link.connected, what="disconnect")
    link.publish_event("gate.scan", {})
    assert not link.wait_drained(0.2)  # returns on the real clock although fake time stands still
    assert not link.wait_subscribed(0.2)



def test_link_subscribes_to_commands_before_announcing_online(broker: Any) -> None:
    """Whoever sees the retained `online` may command the device at once, so on every connect
    the SUBSCRIBE to `cmd/+` must leave before the `online` PUBLISH (one connection's packets are
    handled in order by the broker)."""
    import paho.mqtt.client as paho

    calls: list[str] = []
    ref = DeviceRef("s1", "gate", "order")

    class Recording(paho.Client):
        def subscribe(self, topic: Any, *args: Any, **kwargs: Any) -> Any:
            calls.append("subscribe")
            return super().subscribe(topic, *args, **kwargs)

        def publish(self, topic: str, *args: Any, **kwargs: Any) -> Any:
            if topic == ref.status():
                calls.append("status")
            return super().publish(topic, *args, **kwargs)

    link = MqttLink(ref, MqttSection(url=broker.url), client_factory=Recording)
    link.start()
    try:
        assert link.wait_connected(10) and link.wait_subscribed(10)
        broker.restart()
        deadline = time.monotonic() + 20
        while calls.count("status") < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert calls[:4] == ["subscribe", "status", "subscribe", "status"], calls
    finally:
        link.stop()
