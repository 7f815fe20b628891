"""Replay of a synthetic trace with known ground truth: stayers, passers-by, advertisement loss,
pauses, and a scanner stall.

Tolerances (stated here and in docs/beacon.md), for visits not touched by the stall:

* enter is decided within ``ENTER_TOL`` s of ``arrival + min_near_s``;
* exit within ``-EXIT_EARLY .. +EXIT_LATE`` s of ``departure + exit_timeout_s``;
* dwell within ``DWELL_TOL`` s of the true time spent inside the near radius.

A visit that overlaps the stall still yields exactly one enter and one exit (no exit is decided
while the scanner is known to be deaf, and deaf time does not count towards the exit timeout);
its enter, exit and dwell may be off by up to the stall's length (plus a phone's own advertising
pause right after it), since nothing was heard then.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest

from beacon.config import DEMO_APP_UUID, SimulationSection
from beacon.replay import replay
from beacon.simulate import World
from beacon.tracker import TrackerParams
from venue.cli import main

ENTER_TOL = 10.0
EXIT_EARLY, EXIT_LATE = 5.0, 12.0
DWELL_TOL = 15.0
STALL = (900.0, 60.0)
MAX_PAUSE = 20.0  # the simulator's longest advertising pause of a stayer
DEAF_S = 5.0  # the daemon's deaf_after_s default
DURATION = 1800.0
P = TrackerParams()  # the shipped defaults: min_near 20 s, exit_timeout 45 s


def trace(seed: int) -> World:
    sim = SimulationSection(seed=seed, visitors_per_minute=3, passers_per_minute=6,
                            mean_stay_s=180, adverts_per_s=1)
    return World(sim, DEMO_APP_UUID, stalls=(STALL,))


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_synthetic_trace(seed: int) -> None:
    world = trace(seed)
    sightings = list(world.sightings(DURATION))
    events = list(replay(sightings, P, [DEMO_APP_UUID], stall_s=DEAF_S))
    by_phone = collections.defaultdict(list)
    for e in events:
        by_phone[(e["major"], e["minor"])].append(e)
    s0, s1 = STALL[0], STALL[0] + STALL[1]
    checked = passers = 0
    for v in world.truth:
        got = by_phone.get((v.major, v.minor), [])
        if v.kind == "passer":
            passers += 1
            assert got == [], f"passer-by produced {got}"
            continue
        if v.near_until > DURATION - 1:
            continue  # still inside when the trace ends
        heard = min(v.near_until, s0) - v.near_from + max(0.0, v.near_until - max(v.near_from, s1))
        if heard < P.min_near_s + ENTER_TOL:
            assert [e["type"] for e in got] in ([], ["enter", "exit"])
            continue  # (almost) nothing near was heard outside the stall
        assert [e["type"] for e in got] == ["enter", "exit"], (v, got)
        enter, exit_ = got
        # once the stall is noticed (after DEAF_S of silence) no exit until it ends
        assert not s0 + DEAF_S < exit_["t"] < s1, (v, exit_)
        # a visit counts as touched by the stall when its enter or exit could fall near it
        stalled = (v.near_from < s1 + ENTER_TOL
                   and v.near_until + P.exit_timeout_s + EXIT_LATE > s0)
        slack = STALL[1] + MAX_PAUSE if stalled else 0.0
        assert abs(enter["t"] - (v.near_from + P.min_near_s)) <= ENTER_TOL + slack, (v, enter)
        # deaf time does not count towards the exit timeout: a stall can push an exit back by
        # up to its own length
        delays = (0.0, STALL[1]) if stalled else (0.0,)
        expected = [v.near_until + P.exit_timeout_s + d for d in delays]
        lags = [exit_["t"] - x for x in expected]
        assert any(-EXIT_EARLY - slack <= lag <= EXIT_LATE for lag in lags), (v, exit_)
        assert abs(exit_["dwell"] - (v.near_until - v.near_from)) <= DWELL_TOL + slack, (v, exit_)
        checked += 1
    assert checked >= 30 and passers >= 100  # the trace really exercised both kinds


def test_replay_cli_prints_json_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    world = trace(9)
    rec = tmp_path / "rec.jsonl"
    rec.write_text(
        "".join(s.to_json() + "\n" for s in world.sightings(900.0)) + "not json\n{}\n"
    )
    cfg = tmp_path / "beacon.toml"
    cfg.write_text(f'[beacon]\napp_uuids = ["{DEMO_APP_UUID}"]\n')
    assert main(["beacon", "replay", str(rec), "--config", str(cfg)]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines and {x["type"] for x in lines} == {"enter", "exit"}
    assert set(lines[0]) == {"type", "uuid", "major", "minor", "t", "dwell"}
    enters = sum(x["type"] == "enter" for x in lines)
    assert enters == sum(x["type"] == "exit" for x in lines)  # open visits closed at the end
    ts = [x["t"] for x in lines]
    assert ts == sorted(ts)


def test_replay_of_a_missing_file_fails_cleanly(tmp_path: Path) -> None:
    assert main(["beacon", "replay", str(tmp_path / "nope.jsonl")]) == 1
