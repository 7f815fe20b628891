"""RSSI smoothing and distance: converges, follows a real move, ignores jitter, clamps nonsense."""

from __future__ import annotations

import random
import statistics

import pytest

from beacon.filter import DEFAULT_TX_POWER, MAX_DISTANCE_M, FilterParams, OneEuro, distance_m
from venue.errors import ConfigError


def test_constant_signal_stays_put() -> None:
    f = OneEuro(FilterParams(), -70.0, 0.0)
    for i in range(1, 50):
        assert f.update(-70.0, i * 0.5) == pytest.approx(-70.0)


def test_noise_is_smoothed_and_a_step_is_followed() -> None:
    rng = random.Random(7)
    f = OneEuro(FilterParams(), -70.0, 0.0)
    out = [f.update(-70 + rng.gauss(0, 5), i * 0.5) for i in range(1, 600)]
    assert statistics.pstdev(out[100:]) < 2.5  # raw noise has 5
    t = 300.0
    for k in range(1, 20):  # noqa: B007 - k is read after the loop
        t += 0.5
        if f.update(-90 + rng.gauss(0, 5), t) < -82:
            break
    assert k * 0.5 <= 5.0, "a real change must show within a few seconds"


def test_long_gap_trusts_the_new_reading() -> None:
    f = OneEuro(FilterParams(), -60.0, 0.0)
    assert f.update(-90.0, 600.0) < -85.0


def test_same_timestamp_does_not_divide_by_zero() -> None:
    f = OneEuro(FilterParams(), -60.0, 5.0)
    v = f.update(-80.0, 5.0)
    assert -80.0 < v <= -60.0


def test_params_validate() -> None:
    with pytest.raises(ConfigError):
        FilterParams(min_cutoff_hz=0).validate()
    with pytest.raises(ConfigError):
        FilterParams(beta=-1).validate()


def test_distance_model() -> None:
    assert distance_m(-59, -59, 2.0) == pytest.approx(1.0)
    assert distance_m(-79, -59, 2.0) == pytest.approx(10.0)
    assert distance_m(-69, -59, 2.5) == pytest.approx(10 ** (10 / 25))
    assert distance_m(-59, 0, 2.0) == pytest.approx(1.0)  # uncalibrated: typical phone at 1 m
    assert DEFAULT_TX_POWER == -59


def test_distance_is_clamped() -> None:
    assert distance_m(-127, -59, 2.0) == MAX_DISTANCE_M
    assert distance_m(10, -59, 2.0) == 0.1
