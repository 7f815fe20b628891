"""Simulated phones: a seeded world of visitors and passers-by, and a backend that replays it.

The same generator serves three purposes: the demo's beacon (``backend = "simulated"``), the
replay tests (a synthetic trace whose ground truth is known), and the benchmark. Sightings are
produced from a simple radio model: the log-distance path loss of :mod:`beacon.filter` plus
Gaussian noise, advertisement loss, and pauses (a phone that stops advertising for a while).
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from beacon.config import SimulationSection
from beacon.ibeacon import APPLE, build_frame
from beacon.scanner import DetectionCallback, ScanningMode
from venue.clock import SYSTEM_CLOCK, Clock

NOISE_DB = 5.0
"""Standard deviation of the RSSI noise, typical of a phone in a hand or pocket."""
LOSS = 0.15
"""Share of advertisements that never reach the scanner."""


class Sighting(NamedTuple):
    """One advertisement as a scanner heard it (the JSON-lines recording format).

    Attributes:
        t: Seconds (simulation time, or Unix time in a recording).
        uuid: Proximity UUID as text.
        major: iBeacon major.
        minor: iBeacon minor.
        rssi: Received RSSI, dBm.
        tx: Calibrated RSSI at 1 m.
    """

    t: float
    uuid: str
    major: int
    minor: int
    rssi: int
    tx: int

    def to_json(self) -> str:
        """The recording line ``{t, uuid, major, minor, rssi, tx}``."""
        return json.dumps(self._asdict(), separators=(",", ":"))


@dataclass(frozen=True)
class Visit:
    """Ground truth of one simulated phone.

    Attributes:
        major: Its major.
        minor: Its minor.
        kind: ``stayer`` (should produce one visit) or ``passer`` (should produce none).
        near_from: When it came within the near radius.
        near_until: When it left the near radius.
    """

    major: int
    minor: int
    kind: str
    near_from: float
    near_until: float


@dataclass
class _Phone:
    major: int
    minor: int
    tx: int
    kind: str
    start: float
    end: float
    near_d: float  # distance while staying (stayers) or closest approach (passers)
    speed: float
    pauses: list[tuple[float, float]]


APPROACH_S = 10.0
FAR_M = 20.0


def _distance(p: _Phone, t: float) -> float:
    if p.kind == "passer":
        mid = (p.start + p.end) / 2
        return math.hypot(p.near_d, p.speed * (t - mid))
    if t < p.start + APPROACH_S:  # walking in
        f = (t - p.start) / APPROACH_S
        return FAR_M + (p.near_d - FAR_M) * f
    if t > p.end - APPROACH_S:  # walking out
        f = (p.end - t) / APPROACH_S
        return FAR_M + (p.near_d - FAR_M) * f
    return p.near_d


def near_radius(enter_rssi: float, tx: int, n: float) -> float:
    """Distance at which the mean RSSI equals ``enter_rssi``."""
    return float(10 ** ((tx - enter_rssi) / (10 * n)))


class World:
    """Phones that come and go, produced on demand in time order.

    Args:
        sim: Rates, seed, advertisement rate.
        app_uuid: The UUID the venue app advertises.
        path_loss_exponent: ``n`` of the radio model.
        stalls: ``(start, duration)`` periods in which the scanner hears nothing at all.
    """

    def __init__(
        self,
        sim: SimulationSection,
        app_uuid: str,
        *,
        path_loss_exponent: float = 2.5,
        stalls: tuple[tuple[float, float], ...] = (),
        enter_rssi: float = -75.0,
    ) -> None:
        self.sim = sim
        self.app_uuid = app_uuid
        self.n = path_loss_exponent
        self.stalls = stalls
        self.enter_rssi = enter_rssi
        self.rng = random.Random(sim.seed)
        self.truth: list[Visit] = []
        self._frames: dict[tuple[int, int], bytes] = {}

    def _spawn(self, kind: str, t: float) -> _Phone:
        rng = self.rng
        tx = rng.choice((-56, -59, -62))
        major, minor = rng.randrange(65536), rng.randrange(65536)
        r = near_radius(self.enter_rssi, tx, self.n)
        if kind == "stayer":
            mean = self.sim.mean_stay_s
            stay = min(max(rng.expovariate(1 / mean), 60.0), 4 * mean)
            d = rng.uniform(0.5, 0.5 * r)
            pauses = []
            if stay > 120 and rng.random() < 0.5:  # iOS throttles a backgrounded app now and then
                s = t + rng.uniform(40, stay - 60)
                pauses.append((s, s + rng.uniform(5, 20)))
            p = _Phone(major, minor, tx, kind, t, t + stay + 2 * APPROACH_S, d, 0.0, pauses)
            f = (FAR_M - r) / (FAR_M - d)  # share of the approach outside the near radius
            self.truth.append(
                Visit(major, minor, kind, t + f * APPROACH_S, p.end - f * APPROACH_S)
            )
        else:
            speed = rng.uniform(1.2, 1.6)
            offset = rng.uniform(0.8, 2.0)
            p = _Phone(major, minor, tx, kind, t, t + 40.0, offset, speed, [])
            half = math.sqrt(max(r * r - offset * offset, 0.0)) / speed
            mid = t + 20.0
            self.truth.append(Visit(major, minor, kind, mid - half, mid + half))
        return p

    def sightings(self, until: float, start: float = 0.0) -> Iterator[Sighting]:
        """Every sighting from ``start`` to ``until`` (seconds), in time order."""
        for _, batch in self.steps(until, start):
            yield from batch

    def steps(self, until: float, start: float = 0.0) -> Iterator[tuple[float, list[Sighting]]]:
        """``(t, sightings in [t, t + step))`` for each advertising interval, empty ones too."""
        rng = self.rng
        sim = self.sim
        step = 1.0 / sim.adverts_per_s
        phones: list[_Phone] = []
        rates = (("stayer", sim.visitors_per_minute / 60), ("passer", sim.passers_per_minute / 60))
        next_at = {k: start + rng.expovariate(r) if r > 0 else math.inf for k, r in rates}
        t = start
        while t < until:
            for kind, rate in rates:
                while next_at[kind] <= t:
                    phones.append(self._spawn(kind, next_at[kind]))
                    next_at[kind] += rng.expovariate(rate)
            phones = [p for p in phones if p.end > t]
            stalled = any(s <= t < s + d for s, d in self.stalls)
            batch: list[Sighting] = []
            for p in phones:
                if stalled or rng.random() < LOSS or any(a <= t < b for a, b in p.pauses):
                    continue
                d = _distance(p, t)
                rssi = p.tx - 10 * self.n * math.log10(max(d, 0.1)) + rng.gauss(0, NOISE_DB)
                batch.append(
                    Sighting(
                        round(t + rng.uniform(0, step * 0.99), 3), self.app_uuid, p.major,
                        p.minor, max(-127, min(0, round(rssi))), p.tx,
                    )
                )
            batch.sort()
            yield t, batch
            t += step

    def frame(self, major: int, minor: int, tx: int) -> bytes:
        """The manufacturer data for a phone (cached)."""
        key = (major, minor)
        f = self._frames.get(key)
        if f is None:
            f = self._frames[key] = build_frame(self.app_uuid, major, minor, tx)
        return f


def read_recording(path: str | Path) -> Iterator[Sighting]:
    """Sightings from a JSON-lines recording; malformed lines are skipped."""
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                o = json.loads(line)
                yield Sighting(
                    float(o["t"]), str(o["uuid"]), int(o["major"]), int(o["minor"]),
                    int(o["rssi"]), int(o.get("tx", -59)),
                )
            except (ValueError, KeyError, TypeError):
                continue


def _mac(major: int, minor: int) -> str:
    # A random-looking static address per simulated phone (phones rotate theirs; it never leaves
    # the scanner anyway).
    b = [(major >> 8) | 0xC0, major & 0xFF, minor >> 8, minor & 0xFF, 0x5A, 0x17]
    return ":".join(f"{x:02X}" for x in b)


def to_bleak(s: Sighting, frame: bytes) -> tuple[Any, Any]:
    """Real bleak ``BLEDevice`` and ``AdvertisementData`` objects for a sighting."""
    from bleak.backends.device import BLEDevice
    from bleak.backends.scanner import AdvertisementData

    device = BLEDevice(_mac(s.major, s.minor), None, None)
    adv = AdvertisementData(None, {APPLE: frame}, {}, [], None, s.rssi, ())
    return device, adv


class SimulatedBackend:
    """A scanner backend that plays a recording or a :class:`World` in (scaled) real time.

    Built by :func:`simulated_factory` from the config; it calls the detection callback on the
    event loop, as bleak does.
    """

    def __init__(
        self,
        detection_callback: DetectionCallback,
        *,
        sim: SimulationSection,
        app_uuid: str,
        path_loss_exponent: float = 2.5,
        clock: Clock | None = None,
    ) -> None:
        self._callback = detection_callback
        self.sim = sim
        self.world = World(sim, app_uuid, path_loss_exponent=path_loss_exponent)
        self.clock = clock or SYSTEM_CLOCK
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    def _source(self) -> Iterator[tuple[float, list[Sighting]]]:
        if self.sim.file:
            return ((s.t, [s]) for s in read_recording(self.sim.file))
        return self.world.steps(until=math.inf)

    async def _run(self) -> None:
        from bleak.backends.device import BLEDevice
        from bleak.backends.scanner import AdvertisementData

        rng = random.Random(self.sim.seed + 1)
        others = [
            (BLEDevice(f"4E:00:00:00:00:{i:02X}", None, None), {0x0006: rng.randbytes(24)})
            for i in range(self.sim.other_devices)
        ]
        t0_real = self.clock.monotonic()
        t0_sim: float | None = None
        last_other = -math.inf
        for t, batch in self._source():
            if t0_sim is None:
                t0_sim = t
            wait = t0_real + (t - t0_sim) / self.sim.speed - self.clock.monotonic()
            await asyncio.sleep(max(wait, 0.0))  # always yield: the loop has other work
            for s in batch:
                device, adv = to_bleak(s, self.world.frame(s.major, s.minor, s.tx))
                self._callback(device, adv)
            if t - last_other >= 1.0:  # every other device once a simulated second
                last_other = t
                for dev, md in others:
                    self._callback(dev, AdvertisementData(None, md, {}, [], None, -80, ()))


def simulated_factory(
    sim: SimulationSection, app_uuid: str, path_loss_exponent: float
) -> Any:
    """A :class:`~beacon.scanner.BackendFactory` that builds :class:`SimulatedBackend`."""

    def factory(
        detection_callback: DetectionCallback, *, scanning_mode: ScanningMode, adapter: str | None
    ) -> SimulatedBackend:
        return SimulatedBackend(
            detection_callback, sim=sim, app_uuid=app_uuid, path_loss_exponent=path_loss_exponent
        )

    return factory
