"""RSSI smoothing (a 1-euro filter) and distance from RSSI with a log-distance path loss model.

Why a 1-euro filter rather than a plain Kalman filter: a phone's advertisements arrive at uneven
intervals (iOS in the background slows down, frames collide, the scanner drops some), and the
1-euro filter's smoothing factor is computed from the real time step. A long gap makes it trust
the next reading almost fully instead of dragging an hour-old estimate along, which is what a
constant-gain Kalman filter (room-assistant's choice, fed at a steady rate) would do here. Its
speed term lets a person who walks up to the scanner cross the threshold within a second or two,
while the jitter of someone sitting still (±5 dB) is smoothed hard. ESPresense filters distance
the same way (``one_euro_filter`` with a small minimum cutoff and beta); we filter RSSI, which
is where the noise is roughly Gaussian, and derive distance from the smoothed value.

Reference: Casiez, Roussel, Vogel, "1€ Filter: A Simple Speed-based Low-pass Filter for Noisy
Input in Interactive Systems", CHI 2012.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from venue.errors import ConfigError

_TWO_PI = 2.0 * math.pi

DEFAULT_TX_POWER = -59
"""Typical calibrated RSSI at 1 m of a phone advertising an iBeacon, used when tx power is 0."""
MAX_DISTANCE_M = 50.0
"""Distances are clamped here: past it, RSSI is noise and a "312 m" estimate means nothing."""
MIN_DISTANCE_M = 0.1


@dataclass(frozen=True, slots=True)
class FilterParams:
    """Tuning of the 1-euro filter over RSSI in dBm, time in seconds.

    Attributes:
        min_cutoff_hz: Cutoff when the signal is steady; lower is smoother but lags more.
        beta: How fast the cutoff rises with the signal's speed (per dB/s).
        d_cutoff_hz: Cutoff of the derivative estimate.

    The defaults were tuned on RSSI with 5 dB of Gaussian noise at 1 and 5 adverts/s: a phone
    sitting still wanders about ±5 dB after smoothing (half the default hysteresis band), and a
    20 dB step is followed within about 2 s.
    """

    min_cutoff_hz: float = 0.05
    beta: float = 0.005
    d_cutoff_hz: float = 0.2

    def validate(self) -> None:
        """Raise :class:`ConfigError` for non-positive cutoffs or a negative beta."""
        if self.min_cutoff_hz <= 0 or self.d_cutoff_hz <= 0:
            raise ConfigError("beacon.filter: cutoffs must be positive")
        if self.beta < 0:
            raise ConfigError("beacon.filter: beta must not be negative")


class OneEuro:
    """A 1-euro filter over one signal; state is four floats, so thousands of phones are cheap.

    Args:
        params: Cutoffs and beta.
    """

    __slots__ = ("_beta", "_dcut", "_mincut", "dx", "t", "x")

    def __init__(self, params: FilterParams, x: float, t: float) -> None:
        self._mincut = params.min_cutoff_hz * _TWO_PI
        self._beta = params.beta * _TWO_PI
        self._dcut = params.d_cutoff_hz * _TWO_PI
        self.x = x
        """The filtered value."""
        self.dx = 0.0
        """The filtered derivative (units per second)."""
        self.t = t
        """Time of the last sample."""

    def update(self, x: float, t: float) -> float:
        """Feed a sample at time ``t`` (seconds) and return the filtered value.

        A sample at or before the previous time (same timestamp, clock noise) is averaged in
        with a small step instead of dividing by zero.
        """
        dt = t - self.t
        if dt <= 0.0:
            dt = 1e-3
        else:
            self.t = t
        # alpha = dt / (dt + tau) with tau = 1 / (2 pi fc); 2 pi is folded into the cutoffs.
        wd = self._dcut * dt
        dx = self.dx + (wd / (wd + 1.0)) * ((x - self.x) / dt - self.dx)
        self.dx = dx
        w = (self._mincut + self._beta * (dx if dx >= 0.0 else -dx)) * dt
        self.x += (w / (w + 1.0)) * (x - self.x)
        return self.x


def distance_m(rssi: float, tx_power: int, path_loss_exponent: float) -> float:
    """Distance estimate from the log-distance path loss model, clamped to 0.1..50 m.

    ``d = 10 ** ((tx_power - rssi) / (10 * n))`` where ``tx_power`` is the calibrated RSSI at
    1 m and ``n`` is 2 in free space, 2.5-4 indoors with people in the way.

    Args:
        rssi: Received (ideally smoothed) RSSI in dBm.
        tx_power: Calibrated RSSI at 1 m; 0 (not calibrated) means :data:`DEFAULT_TX_POWER`.
        path_loss_exponent: ``n`` above, must be positive.
    """
    if not tx_power:
        tx_power = DEFAULT_TX_POWER
    exponent = (tx_power - rssi) / (10.0 * path_loss_exponent)
    if exponent > 2.0:  # beyond 100 m before clamping: skip the pow
        return MAX_DISTANCE_M
    return min(MAX_DISTANCE_M, max(MIN_DISTANCE_M, 10.0**exponent))
