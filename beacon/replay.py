"""Run the presence tracker over a recording in simulated time, for tuning thresholds offline.

Time comes from the recording, never from a clock, and nothing sleeps: an hour of sightings
replays in well under a second. It mirrors what the daemon does between sightings: a tick every
second ends visits by timeout, and a gap in *all* sightings of ``stall_s`` or more is treated the
way the daemon treats a silent scanner: it was deaf, so the gap does not count as absence.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from beacon.simulate import Sighting
from beacon.tracker import Tracker, TrackerParams, Transition

TICK_S = 1.0


def replay(
    sightings: Iterable[Sighting],
    params: TrackerParams,
    app_uuids: Iterable[str] | None = None,
    *,
    stall_s: float = 30.0,
) -> Iterator[dict[str, Any]]:
    """Events ``{type, uuid, major, minor, t, dwell}`` decided over ``sightings`` (time order).

    Args:
        sightings: The recording; sightings of other UUIDs are skipped when ``app_uuids`` is set.
        params: Tracker thresholds, as in ``[beacon]``.
        app_uuids: The venue app's UUIDs; ``None`` keeps every iBeacon.
        stall_s: A gap in all sightings this long counts as a scanner stall (the watchdog's
            ``watchdog_s``).

    Yields:
        One dict per enter or exit, in decision order; ``t`` is in the recording's time base,
        ``dwell`` in seconds. Visits still open at the end exit after the timeout.
    """
    tracker = Tracker(params)
    wanted = None if app_uuids is None else {str(uuid.UUID(u)) for u in app_uuids}
    names: dict[tuple[str, int, int], tuple[str, int, int]] = {}
    next_tick = -math.inf
    last_t = -math.inf

    def events(transitions: Iterable[Transition]) -> Iterator[dict[str, Any]]:
        for tr in transitions:
            u, major, minor = names[tr.key]  # type: ignore[index]
            yield {
                "type": tr.kind, "uuid": u, "major": major, "minor": minor,
                "t": round(tr.t, 3), "dwell": round(tr.dwell_s, 1),
            }

    def ticks_until(t: float) -> Iterator[dict[str, Any]]:
        nonlocal next_tick
        while next_tick <= t:
            yield from events(tracker.tick(next_tick))
            next_tick += TICK_S

    for s in sightings:
        u = s.uuid.lower()
        if wanted is not None and u not in wanted:
            continue
        if last_t == -math.inf:
            next_tick = s.t
        elif s.t - last_t >= stall_s:
            yield from ticks_until(last_t + stall_s)  # the watchdog notices only now
            tracker.suspend(last_t)  # deaf since the last sighting, as the daemon dates it
            tracker.resume(s.t)
            next_tick = s.t
        yield from ticks_until(s.t)
        last_t = s.t
        key = (u, s.major, s.minor)
        names.setdefault(key, key)
        yield from events(tracker.observe(key, s.rssi, s.tx, s.t))
    if last_t > -math.inf:
        end = last_t + params.exit_timeout_s + TICK_S
        while tracker.present_count and next_tick <= end + params.exit_timeout_s:
            yield from ticks_until(next_tick)
