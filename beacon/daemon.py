"""The beacon daemon: scanner → parser → app UUID filter → tracker → enter/exit events over MQTT.

Threads and loop: everything Bluetooth runs on one asyncio loop, as bleak wants. The detection
callback only parses, counts and updates the tracker (microseconds, no I/O); the transitions it
produces go to a single worker thread that writes them to the durable outbox (an fsync), so a slow
SD card never stalls the scan. A periodic tick on the loop ends visits by timeout, runs the
watchdog, sends telemetry and pings systemd.

Watchdog ladder when no advertisement at all arrives (BlueZ scans can stop silently):
``watchdog_s`` → restart the scan; ``2 * watchdog_s`` → power cycle the adapter and restart the
scan; then restart the scan again at ``4, 8, ... * watchdog_s`` (at most every 10 minutes). The
first two steps are reported as ``device.error``. Already after ``deaf_after_s`` of silence the
tracker counts the scanner as deaf, so a stall is not taken for everyone's absence. systemd's
watchdog is pinged only while the scan runs and the silence is under ``3 * watchdog_s``, so a
scanner the ladder cannot revive gets the whole service restarted.

Privacy: events carry the rotating (major, minor) pair and never the phone's Bluetooth address.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, Protocol

from beacon.config import BeaconConfig
from beacon.filter import distance_m
from beacon.ibeacon import APPLE, FRAME_LENGTH, parse
from beacon.scanner import (
    AdapterControl,
    BackendFactory,
    BluezAdapterControl,
    ScannerBackend,
    backend_for,
)
from beacon.tracker import ENTER, Tracker, Transition
from venue import ha
from venue.clock import SYSTEM_CLOCK, Clock
from venue.health import Health
from venue.messages import rfc3339
from venue.mqtt import MqttLink
from venue.outbox import Outbox
from venue.runtime import SystemdNotifier
from venue.topics import DeviceRef

log = logging.getLogger(__name__)

MAX_RETRY_S = 600.0
COUNTERS = (
    "adverts", "ibeacons", "app_sightings", "not_ibeacon", "other_uuid", "malformed",
    "callback_errors", "events", "device_errors", "scan_restarts", "adapter_restarts",
    "backend_errors",
)


class Notifier(Protocol):
    """Tells the service manager how we are doing, like :class:`venue.runtime.SystemdNotifier`."""

    def notify(self, *assignments: str) -> bool:
        """Send ``KEY=VALUE`` lines such as ``WATCHDOG=1``; never raise."""
        ...


class BeaconDaemon:
    """One scanner's presence service.

    Args:
        config: The beacon config.
        backend_factory: Builds the scanner (default by ``beacon.backend``: bleak or simulated).
        link: The MQTT link (default: one built from the config with a durable outbox).
        clock: Time for the tracker, watchdog and event timestamps.
        adapter: Power-cycles the Bluetooth adapter (default: BlueZ over D-Bus).
        notifier: systemd notifications (default: ``$NOTIFY_SOCKET``). Pings come from the
            event loop's tick, so a wedged loop stops them as surely as a silent scanner.
    """

    def __init__(
        self,
        config: BeaconConfig,
        *,
        backend_factory: BackendFactory | None = None,
        link: MqttLink | None = None,
        clock: Clock | None = None,
        adapter: AdapterControl | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.config = config
        self.cfg = cfg = config.beacon
        self.clock = clock or SYSTEM_CLOCK
        self.tracker = Tracker(cfg.tracker_params())
        self._uuid_index = {raw: i for i, raw in enumerate(cfg.uuid_bytes())}
        self._uuid_text = [str(uuid.UUID(u)) for u in cfg.app_uuids]
        self.backend_factory = backend_factory or backend_for(config)
        self._own_link = link is None
        self.link = link or MqttLink(
            DeviceRef(config.device.site, "beacon", config.device.id),
            config.mqtt,
            outbox=Outbox(config.outbox_path(), max_items=config.mqtt.outbox_max),
            clock=self.clock,
            status_extra=self._status_extra,
        )
        self.adapter = adapter or BluezAdapterControl()
        self.notifier: Notifier = notifier or SystemdNotifier()
        self.health = Health(clock=self.clock)
        self.counts = dict.fromkeys(COUNTERS, 0)
        self.ticks = 0
        self.backend: ScannerBackend | None = None
        self.scanning = False
        self._level = 0  # watchdog ladder step
        self._deaf = False  # no advertisement for deaf_after_s: absences do not count
        self._due = cfg.watchdog_s  # silence that triggers the next step
        self._last_advert = self.clock.monotonic()
        self._next_start = 0.0
        self._start_failures = 0  # consecutive, for the retry backoff
        self._last_telemetry = (self._last_advert, 0)
        self._publisher = ThreadPoolExecutor(1, thread_name_prefix="beacon-publish")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._warned_malformed = False
        self.link.on_command("restart_scan", self._cmd_restart_scan)
        # Home Assistant shows the scanner with its presence count (venue/ha.py).
        self.ha = ha.attach(self.link, ha.BEACON_ENTITIES, model="beacon scanner",
                            name=f"Beacon scanner {config.device.id}")

    # -- the hot path: bleak's detection callback (loop thread, never blocks, never raises) ------

    def on_advertisement(self, device: Any, adv: Any) -> None:
        """bleak's ``detection_callback``: count, parse, filter, track; hand events off."""
        counts = self.counts
        counts["adverts"] += 1
        now = self.clock.monotonic()
        self._last_advert = now
        if self._deaf:
            self._deaf = False
            self.tracker.resume(now)
        try:
            md = getattr(adv, "manufacturer_data", None)
            b = parse(md)
            if b is None:
                self._classify(md)
                return
            counts["ibeacons"] += 1
            idx = self._uuid_index.get(b[0])
            if idx is None:
                counts["other_uuid"] += 1
                return
            rssi = getattr(adv, "rssi", None)
            if rssi.__class__ is not int or not -127 <= rssi <= 20:
                self._malformed("rssi out of range or not an int")
                return
            counts["app_sightings"] += 1
            out = self.tracker.observe((idx << 32) | (b[1] << 16) | b[2], rssi, b[3], now)
            if out:
                self._emit(out, now)
        except Exception:
            counts["callback_errors"] += 1
            log.exception("advertisement callback failed")

    def _classify(self, md: Any) -> None:
        if not isinstance(md, dict):
            self._malformed("manufacturer_data is not a dict")
            return
        apple = md.get(APPLE)
        if apple is not None:
            if not isinstance(apple, (bytes, bytearray, memoryview)):
                self._malformed("Apple manufacturer data is not bytes")
                return
            if len(apple) >= 2 and apple[0] == 0x02 and apple[1] == 0x15:
                self._malformed(f"iBeacon frame of {len(apple)} bytes, not {FRAME_LENGTH}")
                return
        self.counts["not_ibeacon"] += 1

    def _malformed(self, why: str) -> None:
        self.counts["malformed"] += 1
        if not self._warned_malformed:  # once: a garbage storm must not flood the journal
            self._warned_malformed = True
            log.warning("malformed advertisement (%s); further ones are only counted", why)

    # -- events ----------------------------------------------------------------------------------

    def _emit(self, transitions: Any, now: float) -> None:
        wall = self.clock.now()
        for tr in transitions:
            self.counts["events"] += 1
            self._publisher.submit(self._publish, tr, wall - timedelta(seconds=now - tr.t))

    def _publish(self, tr: Transition, when: Any) -> None:
        key = int(tr.key)  # type: ignore[call-overload]
        data: dict[str, Any] = {
            "uuid": self._uuid_text[key >> 32],
            "major": (key >> 16) & 0xFFFF,
            "minor": key & 0xFFFF,
            "scanner": self.config.device.id,
            "since": rfc3339(when - timedelta(seconds=tr.t - tr.since)),
            "dwell_s": round(tr.dwell_s, 1),
            "rssi": round(tr.rssi, 1),
            "distance_m": round(distance_m(tr.rssi, tr.tx_power, self.cfg.path_loss_exponent), 2),
        }
        if tr.kind != ENTER:
            data["until"] = rfc3339(when - timedelta(seconds=tr.t - tr.since - tr.dwell_s))
            data["reason"] = tr.reason
        try:
            self.link.publish_event(f"beacon.{tr.kind}", data, when=when)
        except Exception:
            log.exception("could not record beacon.%s", tr.kind)

    def _error(self, error: str, **data: Any) -> None:
        self.counts["device_errors"] += 1
        self._publisher.submit(self._publish_error, {"error": error, **data})

    def _publish_error(self, data: dict[str, Any]) -> None:
        try:
            self.link.publish_event("device.error", data)
        except Exception:
            log.exception("could not record device.error")

    # -- scanning and the watchdog ---------------------------------------------------------------

    async def _start_scan(self) -> bool:
        await self._stop_scan()
        try:
            self.backend = self.backend_factory(
                self.on_advertisement,
                scanning_mode=self.cfg.scanning_mode,
                adapter=self.cfg.adapter,
            )
            await self.backend.start()
        except Exception as exc:
            self.counts["backend_errors"] += 1
            self._start_failures += 1
            if self._start_failures == 1:  # once per outage, not at every retry
                self._error("scanner_failed", detail=f"{exc.__class__.__name__}: {exc}"[:200])
            log.warning("scanner did not start: %s", exc)
            self.scanning = False
            self.backend = None
            retry = self.cfg.watchdog_s * 2 ** min(self._start_failures, 6)
            self._next_start = self.clock.monotonic() + min(retry, MAX_RETRY_S)
            return False
        self.scanning = True
        self._start_failures = 0
        return True

    async def _stop_scan(self) -> None:
        backend, self.backend = self.backend, None
        if backend is not None:
            try:
                await backend.stop()
            except Exception as exc:
                log.warning("scanner did not stop cleanly: %s", exc)

    async def _watchdog(self, now: float) -> None:
        silent = now - self._last_advert
        if silent < self.cfg.watchdog_s:
            if self._level:
                log.info("advertisements again after %d watchdog step(s)", self._level)
                self._level = 0
                self._due = self.cfg.watchdog_s
            return
        if silent < self._due:
            return
        if self._level == 1:
            self.counts["adapter_restarts"] += 1
            action = "restart_adapter"
            try:
                await self.adapter.power_cycle(self.cfg.adapter)
            except Exception as exc:
                log.warning("adapter power cycle failed: %s", exc)
                action = f"restart_adapter_failed: {exc}"[:200]
        else:
            action = "restart_scan"
        self.counts["scan_restarts"] += 1
        if self._level < 2:
            self._error("scanner_silent", action=action, silent_s=round(silent, 1))
        log.warning("no advertisement for %.0f s: %s", silent, action)
        self._level += 1
        self._due = silent + min(self.cfg.watchdog_s * 2 ** (self._level - 1), MAX_RETRY_S)
        await self._start_scan()

    def healthy(self) -> bool:
        """True while the scan runs and the silence is shorter than three watchdog periods."""
        silent = self.clock.monotonic() - self._last_advert
        return self.scanning and silent < 3 * self.cfg.watchdog_s

    async def tick(self) -> None:
        """Timeouts, watchdog, telemetry, systemd ping: called every ``tick_s`` by :meth:`run`."""
        self.ticks += 1
        now = self.clock.monotonic()
        if not self._deaf and now - self._last_advert >= self.cfg.deaf_after_s:
            self._deaf = True  # before deciding exits: silence is not absence
            self.tracker.suspend(self._last_advert)
        exits = self.tracker.tick(now)
        if exits:
            self._emit(exits, now)
        if not self.scanning and now >= self._next_start:
            await self._start_scan()
        elif self.scanning:
            await self._watchdog(now)
        if now - self._last_telemetry[0] >= self.cfg.telemetry_s:
            self._telemetry(now)
        if self.healthy():
            self.notifier.notify("WATCHDOG=1")

    def telemetry(self) -> dict[str, Any]:
        """Counters and gauges as sent on ``.../telemetry``."""
        now = self.clock.monotonic()
        t0, n0 = self._last_telemetry
        data: dict[str, Any] = dict(self.counts)
        data.update(self.health.numbers())
        data.update(
            adverts_per_s=round((self.counts["adverts"] - n0) / max(now - t0, 1e-9), 2),
            tracked=len(self.tracker),
            present=self.tracker.present_count,
            last_advert_age_s=round(now - self._last_advert, 1),
            evicted=self.tracker.evicted,
            forgotten=self.tracker.forgotten,
            scanning=self.scanning,
            scanning_mode=getattr(self.backend, "mode", self.cfg.scanning_mode),
            watchdog_level=self._level,
        )
        return data

    def _telemetry(self, now: float) -> None:
        data = self.telemetry()
        self._last_telemetry = (now, self.counts["adverts"])
        try:
            data["outbox_depth"] = self.link.stats().get("outbox_depth", 0)
            self.link.publish_telemetry(data)
        except Exception:
            log.exception("telemetry failed")

    def _status_extra(self) -> dict[str, Any]:
        return {"app_uuids": self._uuid_text, "scanning_mode": self.cfg.scanning_mode}

    def _cmd_restart_scan(self, cmd: Any) -> dict[str, Any]:
        loop = self._loop
        if loop is None:
            raise RuntimeError("daemon is not running")
        ok = asyncio.run_coroutine_threadsafe(self._start_scan(), loop).result(30)
        return {"scanning": ok}

    # -- lifecycle -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Scan and report until :meth:`stop`; ends visits as ``stopped`` on the way out."""
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        if self._own_link:
            self.link.start()
        self._last_advert = self.clock.monotonic()
        self._last_telemetry = (self._last_advert, 0)
        await self._start_scan()
        self.notifier.notify("READY=1")
        self._ready.set()
        try:
            while not self._stop_event.is_set():
                try:
                    await self.tick()
                except Exception:
                    log.exception("tick failed")
                try:
                    await asyncio.wait_for(self._stop_event.wait(), self.cfg.tick_s)
                except TimeoutError:
                    pass
        finally:
            self.notifier.notify("STOPPING=1")
            await self._stop_scan()
            self.scanning = False
            now = self.clock.monotonic()
            self._emit(self.tracker.stop(now), now)
            self._publisher.shutdown(wait=True)
            if self._own_link:
                self.link.stop()

    def start(self) -> None:
        """Run in a background thread (for embedding and tests); returns once scanning began."""
        self._thread = threading.Thread(target=lambda: asyncio.run(self.run()), name="beacon")
        self._thread.start()
        self._ready.wait(30)

    def stop(self, timeout: float = 30.0) -> None:
        """Ask :meth:`run` to finish and wait for it."""
        loop, event = self._loop, self._stop_event
        if loop is not None and event is not None:
            with contextlib.suppress(RuntimeError):  # already stopped: the loop is closed
                loop.call_soon_threadsafe(event.set)
        if self._thread is not None:
            self._thread.join(timeout)
