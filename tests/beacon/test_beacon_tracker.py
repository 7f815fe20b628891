"""Presence tracker: enter after min time near, no flapping, no passer-by visits, exit with dwell,
bounded memory, and scanner stalls that are not absences."""

from __future__ import annotations

import random
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beacon.tracker import ENTER, EXIT, Tracker, TrackerParams
from venue.errors import ConfigError

P = TrackerParams(enter_rssi=-75, exit_rssi=-85, min_near_s=10, exit_timeout_s=30, forget_s=120,
                  max_phones=100)


def feed(tr: Tracker, key: object, rssis: list[float], t0: float, dt: float = 1.0) -> list:
    out = []
    for i, r in enumerate(rssis):
        out += tr.observe(key, r, -59, t0 + i * dt)
        out += tr.tick(t0 + i * dt)
    return out


def test_near_longer_than_min_time_enters_once() -> None:
    tr = Tracker(P)
    out = feed(tr, "a", [-60] * 30, 100.0)
    assert [e.kind for e in out] == [ENTER]
    enter = out[0]
    assert enter.t == 110.0 and enter.since == 100.0 and enter.dwell_s == 10.0
    assert enter.reason == "near" and tr.present_count == 1


def test_near_for_just_under_min_time_does_not_enter() -> None:
    tr = Tracker(P)
    assert feed(tr, "a", [-60] * 10, 0.0) == []  # t = 0..9: 9 s near
    assert tr.present_count == 0


def test_passer_by_never_produces_a_visit() -> None:
    tr = Tracker(P)
    # approaches, is near for 6 s, walks away, then is gone
    out = feed(tr, "p", [-90, -85, -80, -70, -65, -62, -65, -70, -72, -80, -88, -95], 0.0)
    for t in range(12, 400):
        out += tr.tick(float(t))
    assert out == []
    assert len(tr) == 0 and tr.forgotten == 1


def test_jitter_around_the_enter_threshold_does_not_flap() -> None:
    rng = random.Random(3)
    tr = Tracker(P)
    out = feed(tr, "a", [-60] * 15, 0.0)
    # then 20 minutes of readings scattered +-8 dB around the enter threshold
    out += feed(tr, "a", [-75 + rng.uniform(-8, 8) for _ in range(2400)], 15.0, 0.5)
    assert [e.kind for e in out] == [ENTER]


def test_noise_around_the_threshold_before_entering_gives_at_most_one_visit() -> None:
    rng = random.Random(5)
    tr = Tracker(P)
    out = feed(tr, "a", [-75 + rng.gauss(0, 6) for _ in range(2400)], 0.0, 0.5)
    assert [e.kind for e in out] in ([], [ENTER])


def test_gone_exits_after_the_timeout_with_dwell() -> None:
    tr = Tracker(P)
    feed(tr, "a", [-60] * 100, 0.0)  # near from t=0 to t=99
    assert tr.tick(99.0 + 29.5) == []
    (ex,) = tr.tick(99.0 + 30.0)
    assert ex.kind == EXIT and ex.reason == "timeout"
    assert ex.since == 0.0 and ex.dwell_s == 99.0 and ex.t == 129.0
    assert tr.present_count == 0


def test_far_while_still_heard_exits_too() -> None:
    tr = Tracker(P)
    out = feed(tr, "a", [-60] * 20 + [-100] * 60, 0.0)
    assert [e.kind for e in out] == [ENTER, EXIT]
    assert out[1].dwell_s == pytest.approx(19.0, abs=3.0)  # smoothing takes a moment to go far


def test_coming_back_after_an_exit_is_a_new_visit() -> None:
    tr = Tracker(P)
    out = feed(tr, "a", [-60] * 20, 0.0)
    for t in range(20, 60):
        out += tr.tick(float(t))
    out += feed(tr, "a", [-60] * 20, 60.0)
    assert [e.kind for e in out] == [ENTER, EXIT, ENTER]


def test_short_dropout_does_not_end_a_visit() -> None:
    tr = Tracker(P)
    out = feed(tr, "a", [-60] * 20, 0.0)
    for t in range(20, 45):  # 25 s without a sighting (< 30 s timeout)
        out += tr.tick(float(t))
    out += feed(tr, "a", [-60] * 20, 45.0)
    assert [e.kind for e in out] == [ENTER]


def test_stall_is_not_an_absence() -> None:
    tr = Tracker(P)
    feed(tr, "a", [-60] * 20, 0.0)  # present, last near at 19
    tr.suspend(19.5)  # deaf since the last advertisement of any kind
    assert tr.tick(500.0) == [] and tr.suspended
    tr.resume(500.0)
    assert not tr.suspended
    # 480.5 s were deaf: at t=529 the phone has been missed for 29.5 s of listening
    assert tr.tick(529.0) == []
    (ex,) = tr.tick(530.0)
    assert ex.kind == EXIT and ex.dwell_s == 19.0  # the stall is not counted as presence


def test_stall_then_seen_again_keeps_the_visit() -> None:
    tr = Tracker(P)
    out = feed(tr, "a", [-60] * 20, 0.0)
    tr.suspend(19.5)
    tr.resume(300.0)
    out += feed(tr, "a", [-60] * 5, 301.0)
    for t in range(306, 400):
        out += tr.tick(float(t))
    assert [e.kind for e in out] == [ENTER, EXIT]
    assert out[1].dwell_s == 305.0  # last near at 305: the visit spans the stall


def test_near_run_interrupted_only_by_a_stall_carries_on() -> None:
    tr = Tracker(P)
    out = feed(tr, "a", [-60] * 6, 0.0)  # near for 5 s, then the scanner is deaf for 100 s
    tr.suspend(5.5)
    tr.resume(105.0)
    out += feed(tr, "a", [-60] * 6, 105.0)
    assert [e.kind for e in out] == [ENTER] and out[0].since == 0.0


def test_long_stall_does_not_forget_phones() -> None:
    tr = Tracker(P)
    feed(tr, "a", [-90] * 3, 0.0)
    tr.suspend(3.0)
    assert tr.tick(1000.0) == [] and len(tr) == 1
    tr.resume(1000.0)
    tr.tick(1000.0 + P.forget_s - 5)
    assert len(tr) == 1
    tr.tick(1000.0 + P.forget_s)
    assert len(tr) == 0


def test_stop_ends_every_visit() -> None:
    tr = Tracker(P)
    feed(tr, "a", [-60] * 20, 0.0)
    feed(tr, "b", [-60] * 20, 0.0)
    out = tr.stop(25.0)
    assert sorted(e.key for e in out) == ["a", "b"] and {e.reason for e in out} == {"stopped"}


def test_cap_evicts_the_stalest_and_ends_its_visit() -> None:
    tr = Tracker(TrackerParams(min_near_s=0, exit_timeout_s=30, forget_s=60, max_phones=3))
    out = []
    for i, key in enumerate("abcd"):
        out += tr.observe(key, -60, -59, float(i))
    assert len(tr) == 3 and tr.evicted == 1
    assert tr.smoothed("a") is None and tr.smoothed("d") == -60.0
    exits = [e for e in out if e.kind == EXIT]
    assert [(e.key, e.reason) for e in exits] == [("a", "evicted")]


def test_ten_thousand_phones_memory_is_bounded() -> None:
    params = TrackerParams(min_near_s=5, exit_timeout_s=30, forget_s=60, max_phones=10_000)
    tr = Tracker(params)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for rnd in range(3):  # 30,000 distinct phones through a 10,000 cap
            for i in range(10_000):
                tr.observe((rnd, i), -70, -59, rnd * 10.0 + i * 1e-3)
        size = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert len(tr) == 10_000 and tr.evicted == 20_000
    assert size < 8 * 1024 * 1024, f"{size / 1e6:.1f} MB for 10,000 phones"
    assert tr.tick(30.0 + 60.0) == []  # nobody was near for 5 s
    assert len(tr) == 0 and tr.forgotten == 10_000


def test_bad_params_are_refused() -> None:
    with pytest.raises(ConfigError):
        Tracker(TrackerParams(enter_rssi=-80, exit_rssi=-75))
    with pytest.raises(ConfigError):
        Tracker(TrackerParams(exit_timeout_s=60, forget_s=30))
    with pytest.raises(ConfigError):
        Tracker(TrackerParams(max_phones=0))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(-110, -40), st.floats(0, 20),
                          st.booleans()), max_size=200))
def test_invariants_under_random_traffic(steps: list[tuple[int, int, float, bool]]) -> None:
    tr = Tracker(TrackerParams(min_near_s=3, exit_timeout_s=10, forget_s=20, max_phones=4))
    now = 0.0
    state: dict[int, bool] = {}
    for key, rssi, dt, tick in steps:
        now += dt
        out = list(tr.tick(now)) if tick else list(tr.observe(key, rssi, -59, now))
        for e in out:
            assert e.dwell_s >= 0 and e.since <= e.t
            inside = state.get(e.key, False)  # type: ignore[call-overload]
            assert inside == (e.kind == EXIT), "enter and exit alternate per phone"
            state[e.key] = e.kind == ENTER  # type: ignore[index]
        assert len(tr) <= 4
        assert tr.present_count == sum(state.values())
