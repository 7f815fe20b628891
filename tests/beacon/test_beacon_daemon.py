"""The daemon end to end: real bleak AdvertisementData/BLEDevice objects through an injected
backend, a real Mosquitto, the durable outbox, an injected clock. No sleeps decide anything: the
test moves the fake clock and waits (with a timeout) for what must follow."""

from __future__ import annotations

import asyncio
import random
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from helpers_mqtt import Collector, wait_for

from beacon.config import BeaconConfig, BeaconSection, SimulationSection
from beacon.daemon import BeaconDaemon
from beacon.ibeacon import APPLE, build_frame
from venue.clock import FakeClock
from venue.config import DeviceSection, MqttSection
from venue.messages import Event, load_json

APP = "53fee14b-aa2c-4bb0-80d9-c6815dcc2d49"
ROOT = "venue/v1/s1/beacon/b1"
PHONE_MAC = "7A:1B:2C:3D:4E:5F"


class FakeScanner:
    """Built like ``BleakScanner(callback, scanning_mode=..., bluez=...)``; the test delivers
    advertisements into the callback on the daemon's loop, as BlueZ would."""

    def __init__(self, callback: Any, mode: str, fail_start: bool, fail_stop: bool) -> None:
        self.callback = callback
        self.mode = mode
        self.fail_start = fail_start
        self.fail_stop = fail_stop
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stopped = False

    async def start(self) -> None:
        if self.fail_start:
            raise RuntimeError("org.bluez.Error.NotReady: Resource Not Ready")
        self.loop = asyncio.get_running_loop()

    async def stop(self) -> None:
        self.stopped = True
        if self.fail_stop:
            raise RuntimeError("org.bluez.Error.Failed: No discovery started")

    def emit(self, device: BLEDevice, adv: AdvertisementData) -> None:
        assert self.loop is not None, "scanner not started"

        async def deliver() -> None:
            self.callback(device, adv)

        asyncio.run_coroutine_threadsafe(deliver(), self.loop).result(5)


class Factory:
    def __init__(self) -> None:
        self.made: list[FakeScanner] = []
        self.fail_starts = 0
        self.fail_stops = False

    def __call__(self, callback: Any, *, scanning_mode: str, adapter: str | None) -> FakeScanner:
        s = FakeScanner(callback, scanning_mode, self.fail_starts > 0, self.fail_stops)
        self.fail_starts = max(0, self.fail_starts - 1)
        self.made.append(s)
        return s

    @property
    def current(self) -> FakeScanner:
        return self.made[-1]


class FakeAdapter:
    def __init__(self) -> None:
        self.cycles: list[str | None] = []

    async def power_cycle(self, adapter: str | None) -> None:
        self.cycles.append(adapter)


class Pings:
    """Records systemd notifications with the fake time and the silence at that moment."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.daemon: BeaconDaemon | None = None
        self.sent: list[tuple[str, float]] = []

    def notify(self, *assignments: str) -> bool:
        silent = self.clock.monotonic() - self.daemon._last_advert if self.daemon else 0.0
        self.sent.extend((state, silent) for state in assignments)
        return True

    def watchdogs(self) -> int:
        return sum(1 for s, _ in self.sent if s == "WATCHDOG=1")


def phone_adv(rssi: int = -60, major: int = 1234, minor: int = 5678) -> AdvertisementData:
    frame = build_frame(APP, major, minor, -59)
    return AdvertisementData(None, {APPLE: frame}, {}, [], None, rssi, ())


NOISE_DEV = BLEDevice("11:22:33:44:55:66", "headphones", None)
NOISE_ADV = AdvertisementData("headphones", {0x0006: b"\x01\x09\x20\x02"}, {}, [], -12, -80, ())
PHONE_DEV = BLEDevice(PHONE_MAC, None, None)


class Rig:
    def __init__(self, tmp_path: Path, port: int, url: str, **beacon: Any) -> None:
        self.clock = FakeClock()
        self.factory = Factory()
        self.adapter = FakeAdapter()
        self.pings = Pings(self.clock)
        settings: dict[str, Any] = dict(
            app_uuids=[APP], min_near_s=5.0, exit_timeout_s=20.0, forget_s=60.0,
            watchdog_s=30.0, deaf_after_s=5.0, telemetry_s=10.0, tick_s=0.01,
        )
        settings.update(beacon)
        self.config = BeaconConfig(
            device=DeviceSection(site="s1", id="b1", data_dir=str(tmp_path / "data")),
            mqtt=MqttSection(url=url),
            beacon=BeaconSection(**settings),
        )
        self.config.beacon.validate()
        self.sub = Collector(port, f"{ROOT}/#")
        self.sub.wait_subscribed()
        self.daemon = BeaconDaemon(
            self.config, backend_factory=self.factory, clock=self.clock, adapter=self.adapter,
            notifier=self.pings,
        )
        self.pings.daemon = self.daemon

    def step(self, dev: BLEDevice, adv: AdvertisementData, seconds: float = 1.0) -> None:
        """One advertisement now, then the time moves on; waits for a tick to see it."""
        self.factory.current.emit(dev, adv)
        self.clock.advance(seconds)
        self.ticked()

    def ticked(self, n: int = 2) -> None:
        target = self.daemon.ticks + n
        wait_for(lambda: self.daemon.ticks >= target, 5, "daemon ticks")

    def events(self, type_: str) -> list[Event]:
        return [Event.decode(m.payload) for m in self.sub.on(f"{ROOT}/event/{type_}")]


@pytest.fixture
def rig(tmp_path: Path, broker: Any) -> Iterator[Rig]:
    r = Rig(tmp_path, broker.port, broker.url)
    yield r
    r.daemon.stop()
    r.sub.close()


@pytest.fixture
def started(rig: Rig) -> Rig:
    rig.daemon.start()
    assert rig.daemon.scanning
    return rig


def test_enter_and_exit_reach_mqtt_with_dwell_and_no_address(started: Rig) -> None:
    r = started
    for _ in range(7):  # near for 6 s (min_near_s 5)
        r.step(PHONE_DEV, phone_adv(-60))
    (enter,) = wait_for(lambda: r.events("beacon.enter"), what="beacon.enter")
    assert enter.data["major"] == 1234 and enter.data["minor"] == 5678
    assert enter.data["uuid"] == APP and enter.data["scanner"] == "b1"
    assert enter.data["dwell_s"] == 5.0
    for _ in range(25):  # the phone is gone; the scanner still hears other devices
        r.step(NOISE_DEV, NOISE_ADV)
    (exit_,) = wait_for(lambda: r.events("beacon.exit"), what="beacon.exit")
    assert exit_.data["dwell_s"] == 6.0 and exit_.data["reason"] == "timeout"
    assert exit_.data["since"] == enter.data["since"]
    assert exit_.time > enter.time
    payloads = b"".join(m.payload for m in r.sub.all()).upper()
    for form in (PHONE_MAC, PHONE_MAC.replace(":", "")):
        assert form.encode() not in payloads
    assert r.daemon.counts["app_sightings"] == 7 and r.daemon.counts["not_ibeacon"] == 25


def text(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.printable) for _ in range(n))


def garbage(rng: random.Random) -> tuple[BLEDevice, AdvertisementData]:
    kind = rng.randrange(6)
    md: Any
    if kind == 0:
        md = {rng.randrange(65536): rng.randbytes(rng.randrange(40)) for _ in range(3)}
    elif kind == 1:  # iBeacon header with the wrong length
        md = {APPLE: b"\x02\x15" + rng.randbytes(rng.choice([0, 5, 20, 22, 30]))}
    elif kind == 2:
        md = rng.choice([None, "garbage", 42, [1, 2], {APPLE: "text"}, {APPLE: None}, b"\x02"])
    elif kind == 3:  # a valid other-UUID iBeacon
        md = {APPLE: build_frame(rng.randbytes(16), rng.randrange(65536), 1, -59)}
    elif kind == 4:  # a valid app frame with a nonsense RSSI
        md = {APPLE: build_frame(APP, 1, 2, -59)}
    else:
        md = {APPLE: rng.randbytes(rng.randrange(60))}
    rssi: Any = rng.choice([rng.randrange(-300, 300), "-60", None, 3.5, 1000])
    if kind == 4:
        rssi = rng.choice([127, 1000, "-60", None])
    adv = AdvertisementData(
        rng.choice([None, text(rng, 10)]), md, {text(rng, 5): rng.randbytes(4)},
        [text(rng, 36)], rng.choice([None, rng.randrange(-1000, 1000)]), rssi, (rng.random(),),
    )
    return BLEDevice(text(rng, 17), rng.choice([None, text(rng, 8)]), None), adv


def test_garbage_storm_is_counted_and_the_daemon_keeps_working(started: Rig) -> None:
    r = started
    rng = random.Random(7)
    scanner = r.factory.current
    for _ in range(600):
        scanner.emit(*garbage(rng))
    # Unrealistic objects too: not AdvertisementData at all.
    scanner.emit(PHONE_DEV, None)  # type: ignore[arg-type]
    scanner.emit(None, object())  # type: ignore[arg-type]
    c = r.daemon.counts
    assert c["adverts"] == 602 and c["callback_errors"] == 0
    assert c["malformed"] >= 200  # truncated frames, wrong types, impossible RSSI
    assert c["other_uuid"] > 0 and c["not_ibeacon"] > 0
    assert c["malformed"] + c["other_uuid"] + c["not_ibeacon"] == 602
    for _ in range(7):  # ...and a real phone is still noticed
        r.step(PHONE_DEV, phone_adv(-60))
    wait_for(lambda: r.events("beacon.enter"), what="beacon.enter after the storm")
    r.clock.advance(10)  # telemetry_s
    r.factory.current.emit(NOISE_DEV, NOISE_ADV)

    def telemetry() -> Any:
        for m in reversed(r.sub.on(f"{ROOT}/telemetry")):
            return load_json(m.payload)
        return None

    t = wait_for(telemetry, what="telemetry")
    assert t["malformed"] == c["malformed"] and t["tracked"] == 1 and t["present"] == 1
    assert t["adverts_per_s"] > 0 and "last_advert_age_s" in t


def test_backend_that_raises_is_reported_and_retried(rig: Rig) -> None:
    r = rig
    r.factory.fail_starts = 2
    r.factory.fail_stops = True
    r.daemon.start()
    assert not r.daemon.scanning and r.daemon.counts["backend_errors"] == 1
    (err,) = wait_for(lambda: r.events("device.error"), what="device.error")
    assert err.data["error"] == "scanner_failed" and "NotReady" in err.data["detail"]
    r.ticked()
    assert len(r.factory.made) == 1  # no retry storm: it waits for the backoff (60 s)
    r.clock.advance(61)
    wait_for(lambda: len(r.factory.made) == 2, 5, "first retry")
    r.ticked()
    assert not r.daemon.scanning and not r.daemon.healthy()
    r.clock.advance(61)
    r.ticked()
    assert len(r.factory.made) == 2  # the backoff doubled to 120 s
    r.clock.advance(60)
    wait_for(lambda: r.daemon.scanning, 5, "scanner started on the second retry")
    assert len(r.factory.made) == 3 and r.daemon.counts["backend_errors"] == 2
    r.step(PHONE_DEV, phone_adv())
    assert r.daemon.counts["app_sightings"] == 1 and r.daemon.healthy()
    assert r.daemon.counts["device_errors"] == 1  # one report per outage, not one per retry


def test_watchdog_restarts_a_silent_scanner_then_the_adapter(started: Rig) -> None:
    r = started
    for _ in range(7):
        r.step(PHONE_DEV, phone_adv(-60))
    wait_for(lambda: r.events("beacon.enter"), what="enter")
    pings_before = r.pings.watchdogs()
    assert pings_before > 0
    first = r.factory.current
    r.clock.advance(30)  # silence: 31 s since the last advertisement
    wait_for(lambda: len(r.factory.made) == 2, 5, "scan restarted")
    assert first.stopped and r.adapter.cycles == []
    r.clock.advance(30)  # 61 s
    wait_for(lambda: len(r.factory.made) == 3, 5, "second restart")
    assert r.adapter.cycles == [None]
    errors = wait_for(lambda: len(r.events("device.error")) == 2 and r.events("device.error"))
    assert [e.data["action"] for e in errors] == ["restart_scan", "restart_adapter"]
    assert all(e.data["error"] == "scanner_silent" for e in errors)
    assert r.daemon.counts["device_errors"] == 2
    r.clock.advance(30)  # 91 s: the ladder did not help, so systemd must see us as unhealthy
    r.ticked(5)
    assert not r.daemon.healthy()
    assert all(silent < 90 for state, silent in r.pings.sent if state == "WATCHDOG=1")
    assert r.events("beacon.exit") == []  # a deaf scanner is not everyone leaving
    # the phone is heard again: healthy, pinging, and still the same visit
    pings = r.pings.watchdogs()
    r.step(PHONE_DEV, phone_adv(-60))
    r.step(PHONE_DEV, phone_adv(-60))
    wait_for(lambda: r.pings.watchdogs() > pings, 5, "watchdog pings again")
    assert r.daemon.healthy() and r.daemon.telemetry()["watchdog_level"] == 0
    for _ in range(25):
        r.step(NOISE_DEV, NOISE_ADV)
    (exit_,) = wait_for(lambda: r.events("beacon.exit"), what="exit")
    assert len(r.events("beacon.enter")) == 1
    assert exit_.data["dwell_s"] == pytest.approx(6 + 91 + 1, abs=0.01)  # spans the stall


def test_stop_ends_open_visits_and_events_survive_in_the_outbox(started: Rig) -> None:
    r = started
    for _ in range(7):
        r.step(PHONE_DEV, phone_adv(-60))
    wait_for(lambda: r.events("beacon.enter"), what="enter")
    r.daemon.stop()
    (exit_,) = wait_for(lambda: r.events("beacon.exit"), what="exit on stop")
    assert exit_.data["reason"] == "stopped"
    assert any(s == "STOPPING=1" for s, _ in r.pings.sent)
    assert (Path(r.config.device.data_dir) / "beacon-outbox.db").exists()


def test_simulated_backend_chosen_by_config_reaches_mqtt(tmp_path: Path, broker: Any) -> None:
    """No injected factory: ``backend = "simulated"`` in the config picks the simulated phones,
    which go through bleak objects and the same callback. Real time, compressed 20x."""
    cfg = BeaconConfig(
        device=DeviceSection(site="s1", id="b1", data_dir=str(tmp_path / "data")),
        mqtt=MqttSection(url=broker.url),
        beacon=BeaconSection(backend="simulated", app_uuids=[APP], min_near_s=1.0,
                             exit_timeout_s=3.0, deaf_after_s=1.0, watchdog_s=5.0,
                             forget_s=10.0, tick_s=0.05),
        simulation=SimulationSection(speed=20.0, visitors_per_minute=60.0,
                                     passers_per_minute=0.0, seed=4),
    )
    sub = Collector(broker.port, f"{ROOT}/#")
    sub.wait_subscribed()
    daemon = BeaconDaemon(cfg, adapter=FakeAdapter(), notifier=Pings(FakeClock()))
    daemon.start()
    try:
        wait_for(lambda: sub.on(f"{ROOT}/event/beacon.enter"), 15, "a simulated visitor")
        assert daemon.counts["not_ibeacon"] > 0  # the simulated headphones and watches
        assert daemon.counts["malformed"] == 0 and daemon.counts["callback_errors"] == 0
    finally:
        daemon.stop()
        sub.close()
