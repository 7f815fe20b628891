"""Presence of phones near one scanner: smoothed RSSI with hysteresis, turned into enter and exit.

The tracker is pure: it reads no clock and does no I/O. The caller hands it each sighting with the
time (:meth:`Tracker.observe`) and calls :meth:`Tracker.tick` now and then so absences can end
visits; both return the transitions they decided. The daemon, ``venue beacon replay`` and the
tests therefore run the very same logic, in real or simulated time.

Rules, per phone (smoothed RSSI ``s``, see :mod:`beacon.filter`):

- **enter** at a sighting with ``s >= enter_rssi`` at least ``min_near_s`` after the near run
  began. The run begins at a sighting with ``s >= enter_rssi`` and survives dips down to
  ``exit_rssi`` (the same hysteresis band as for exits, so a visitor sitting just inside the
  threshold is not made to start over at every dip); a sighting below ``exit_rssi`` or a gap
  longer than ``exit_timeout_s`` ends it. A passer-by is far again by the time ``min_near_s`` has
  passed, so never produces anything. The visit is taken to start when the run began.
- **exit** once the phone has not been seen with ``s >= exit_rssi`` for ``exit_timeout_s``:
  either it is gone, or it is far. ``exit_rssi`` is below ``enter_rssi``, so RSSI jitter around
  the enter threshold cannot end a visit (hysteresis). Dwell is from the visit start to the last
  near sighting, so the timeout itself is not counted as time spent in the venue.
- **memory** is bounded: a phone not seen for ``forget_s`` is forgotten, and when ``max_phones``
  are tracked the stalest one is evicted to make room (ending its visit if it had one).
- **scanner stalls** (BlueZ scans silently stop) are not absences: time between :meth:`suspend`
  (dated back to the last advertisement heard) and :meth:`resume` is *deaf time*, and timeouts
  count only the time the scanner was listening. A phone that stayed through a stall keeps its
  visit; one that left during it exits once the scanner has listened for ``exit_timeout_s``
  without hearing it, with the dwell up to its last near sighting.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from beacon.filter import FilterParams, OneEuro
from venue.errors import ConfigError

ENTER = "enter"
EXIT = "exit"

_NONE: tuple[Transition, ...] = ()


class Transition(NamedTuple):
    """A phone entered or left the scanner's zone.

    Attributes:
        kind: ``"enter"`` or ``"exit"``.
        key: The caller's key of the phone (the daemon uses the iBeacon identity).
        t: Tracker time at which this was decided.
        since: Tracker time the visit started (first sighting of the near run that entered).
        dwell_s: ``t - since`` for an enter; last near sighting minus ``since`` for an exit.
        rssi: Smoothed RSSI at the decision, dBm.
        tx_power: Calibrated RSSI at 1 m from the phone's last frame.
        reason: ``near`` (enter); ``timeout``, ``evicted``, ``forgotten`` or ``stopped`` (exit).
    """

    kind: str
    key: Hashable
    t: float
    since: float
    dwell_s: float
    rssi: float
    tx_power: int
    reason: str


@dataclass(frozen=True, slots=True)
class TrackerParams:
    """Thresholds and bounds of the presence tracker (the ``[beacon]`` config fills it).

    Attributes:
        enter_rssi: Smoothed RSSI (dBm) at or above which a phone counts as near.
        exit_rssi: Smoothed RSSI below which a present phone counts as far; below ``enter_rssi``.
        min_near_s: How long a phone must stay near before it enters.
        exit_timeout_s: How long a present phone may be absent or far before it exits.
        forget_s: Phones not seen for this long are dropped from memory (``>= exit_timeout_s``).
        max_phones: Most phones tracked at once; the stalest is evicted beyond it.
        filter: RSSI smoothing.
    """

    enter_rssi: float = -75.0
    exit_rssi: float = -85.0
    min_near_s: float = 20.0
    exit_timeout_s: float = 45.0
    forget_s: float = 300.0
    max_phones: int = 5000
    filter: FilterParams = field(default_factory=FilterParams)

    def validate(self) -> None:
        """Raise :class:`ConfigError` for settings that would make the rules meaningless."""
        if self.exit_rssi >= self.enter_rssi:
            raise ConfigError("beacon.exit_rssi: must be below enter_rssi (hysteresis)")
        if self.min_near_s < 0 or self.exit_timeout_s <= 0:
            raise ConfigError("beacon.min_near_s/exit_timeout_s: must be positive")
        if self.forget_s < self.exit_timeout_s:
            raise ConfigError("beacon.forget_s: must be at least exit_timeout_s")
        if self.max_phones < 1:
            raise ConfigError("beacon.max_phones: must be at least 1")
        self.filter.validate()


class _Phone(OneEuro):
    """Per-phone state: the phone *is* its RSSI filter (one object, no indirection on the hot
    path), and slots keep 10,000 of them to a few megabytes."""

    __slots__ = (
        "deaf", "last_near", "last_seen", "near_deaf", "near_since", "present", "since", "tx"
    )

    def __init__(self, params: FilterParams, rssi: float, now: float, tx: int, deaf: float) -> None:
        super().__init__(params, rssi, now)
        self.last_seen = now
        self.deaf = deaf  # the tracker's deaf time when last seen
        self.near_deaf = deaf  # ... and when last near
        self.tx = tx
        self.near_since = -math.inf  # -inf: not in a near run
        self.present = False
        self.since = 0.0
        self.last_near = 0.0


class Tracker:
    """Presence of many phones near one scanner. Not thread-safe: call it from one thread.

    Args:
        params: Thresholds and bounds.
    """

    def __init__(self, params: TrackerParams | None = None) -> None:
        self.params = params or TrackerParams()
        self.params.validate()
        p = self.params
        self._enter = p.enter_rssi
        self._exit = p.exit_rssi
        self._min_near = p.min_near_s
        self._timeout = p.exit_timeout_s
        self._forget = p.forget_s
        self._max = p.max_phones
        self._filter = p.filter
        self._phones: OrderedDict[Hashable, _Phone] = OrderedDict()  # least recently seen first
        self._present: dict[Hashable, _Phone] = {}
        self._deaf_total = 0.0  # seconds the scanner was deaf, ended stalls
        self._deaf_since = math.inf  # start of the current stall, inf when listening
        self.evicted = 0
        """Phones dropped to respect ``max_phones``."""
        self.forgotten = 0
        """Phones dropped after ``forget_s`` without a sighting."""

    def __len__(self) -> int:
        return len(self._phones)

    @property
    def present_count(self) -> int:
        """Phones currently inside a visit."""
        return len(self._present)

    def smoothed(self, key: Hashable) -> float | None:
        """The smoothed RSSI of a tracked phone, or ``None``."""
        p = self._phones.get(key)
        return None if p is None else p.x

    def observe(
        self, key: Hashable, rssi: float, tx_power: int, now: float
    ) -> Sequence[Transition]:
        """Take one sighting of ``key`` at time ``now`` (seconds, non-decreasing).

        Returns:
            The transitions it caused: usually none, an enter, and possibly the exit of a phone
            evicted to make room.
        """
        phones = self._phones
        p = phones.get(key)
        out: Sequence[Transition] = _NONE
        if p is None:
            if len(phones) >= self._max:
                out = self._evict_stalest(now)
            p = _Phone(self._filter, rssi, now, tx_power, self._deaf(now))
            phones[key] = p
            s = float(rssi)
            gap = 0.0
        else:
            phones.move_to_end(key)
            deaf = self._deaf_total if self._deaf_since > now else self._deaf(now)
            gap = now - p.last_seen - (deaf - p.deaf)  # listening time since last seen
            s = p.update(rssi, now)
            p.last_seen = now
            p.deaf = deaf
            p.tx = tx_power
        if p.present:
            if s >= self._exit:
                p.last_near = now
                p.near_deaf = p.deaf
            return out
        if s < self._exit:
            p.near_since = -math.inf
            return out
        if p.near_since == -math.inf or gap > self._timeout:
            if s < self._enter:
                return out
            p.near_since = now
        if s < self._enter or now - p.near_since < self._min_near:
            return out
        p.present = True
        p.since = p.near_since
        p.last_near = now
        p.near_deaf = p.deaf
        self._present[key] = p
        enter = Transition(ENTER, key, now, p.since, now - p.since, s, p.tx, "near")
        return (*out, enter) if out else (enter,)

    def tick(self, now: float) -> list[Transition]:
        """Decide exits by timeout and forget stale phones; call it every second or so.

        Returns:
            Exits, oldest visit end first.
        """
        out: list[Transition] = []
        timeout = self._timeout
        deaf = self._deaf(now)
        for key, p in list(self._present.items()):
            if now - p.last_near - (deaf - p.near_deaf) >= timeout:
                out.append(self._end(key, p, now, "timeout"))
        phones = self._phones
        forget = self._forget
        while phones:  # least recently seen first, so the first one still listened for stops it
            key, p = next(iter(phones.items()))
            if now - p.last_seen - (deaf - p.deaf) < forget:
                break
            del phones[key]
            self.forgotten += 1
            if p.present:  # cannot happen with forget_s >= exit_timeout_s; keep the visit
                out.append(self._end(key, p, now, "forgotten"))
        out.sort(key=lambda tr: tr.since + tr.dwell_s)
        return out

    def suspend(self, since: float) -> None:
        """The scanner has been deaf since ``since`` (its last advertisement of any kind)."""
        if self._deaf_since == math.inf:
            self._deaf_since = since

    def resume(self, now: float) -> None:
        """The scanner hears again since ``now``; the stall becomes deaf time."""
        if self._deaf_since != math.inf:
            self._deaf_total += max(0.0, now - self._deaf_since)
            self._deaf_since = math.inf

    def _deaf(self, now: float) -> float:
        """Deaf seconds so far, the current stall included."""
        if self._deaf_since == math.inf:
            return self._deaf_total
        return self._deaf_total + max(0.0, now - self._deaf_since)

    @property
    def suspended(self) -> bool:
        """True between :meth:`suspend` and :meth:`resume`."""
        return self._deaf_since != math.inf

    def stop(self, now: float) -> list[Transition]:
        """End every visit (the daemon is stopping), so dwell up to now is reported."""
        out = [self._end(key, p, now, "stopped") for key, p in list(self._present.items())]
        return out

    def _end(self, key: Hashable, p: _Phone, now: float, reason: str) -> Transition:
        self._present.pop(key, None)
        p.present = False
        p.near_since = -math.inf
        return Transition(EXIT, key, now, p.since, p.last_near - p.since, p.x, p.tx, reason)

    def _evict_stalest(self, now: float) -> Sequence[Transition]:
        key, p = self._phones.popitem(last=False)
        self.evicted += 1
        if p.present:
            return (self._end(key, p, now, "evicted"),)
        return _NONE
