"""Rotating iBeacon identifiers of the venue app: the scheme the app, the beacon and the hub share.

Why rotate: an iBeacon's (major, minor) is broadcast in clear to anyone with a scanner. A fixed
pair per phone would let a stranger follow that phone from day to day and venue to venue. So the
hub gives every app install a random secret, and the app advertises a pair derived from that
secret and the current UTC date. Only the hub, which knows the secrets, can map a pair back to an
install; to everyone else the pair changes every day at 00:00 UTC.

Derivation (reimplement it exactly in the app; the test vectors are in ``docs/beacon.md``)::

    message = b"venue-beacon-v1:" + "YYYY-MM-DD".encode("ascii")   # the UTC date
    digest  = HMAC-SHA256(key=secret, msg=message)                  # 32 bytes
    major   = digest[0] << 8 | digest[1]                            # big-endian uint16
    minor   = digest[2] << 8 | digest[3]

The pair holds 32 bits, so two installs share a pair on a given day with probability about
``installs / 2**32`` per install; :func:`resolve` returns every match and the hub treats more than
one as "unknown" rather than guessing. Resolution also tries the neighbouring days, because a
phone whose clock is a little off (or which cached its pair shortly before midnight) advertises
yesterday's or tomorrow's pair for a while.

This module is in the shared core (not in ``beacon/``) because the hub resolves pairs and no role
imports another role.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

SCHEME = b"venue-beacon-v1:"
"""Domain-separation prefix of the HMAC message; a new scheme gets a new prefix."""

MIN_SECRET_BYTES = 16
"""Shortest install secret accepted: 128 bits, so pairs cannot be predicted by guessing secrets."""


class BeaconPair(NamedTuple):
    """What a phone advertises on one day.

    Attributes:
        major: iBeacon major, 0..65535 (digest bytes 0-1, big-endian).
        minor: iBeacon minor, 0..65535 (digest bytes 2-3, big-endian).
    """

    major: int
    minor: int


def utc_day(when: datetime) -> date:
    """The UTC calendar date of ``when`` (timezone-aware), the day the pair belongs to.

    Raises:
        ValueError: for a naive datetime, whose day would depend on the machine's timezone.
    """
    if when.tzinfo is None:
        raise ValueError("utc_day needs a timezone-aware datetime")
    return when.astimezone(UTC).date()


def _check_secret(secret: bytes) -> None:
    if not isinstance(secret, (bytes, bytearray)) or len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"install secret must be at least {MIN_SECRET_BYTES} bytes")


def beacon_pair(secret: bytes, day: date) -> BeaconPair:
    """The (major, minor) an install with ``secret`` advertises on the UTC date ``day``.

    Args:
        secret: The install's secret (raw bytes, at least 16).
        day: The UTC date.

    Raises:
        ValueError: when the secret is too short.
    """
    _check_secret(secret)
    digest = hmac.new(bytes(secret), SCHEME + day.isoformat().encode("ascii"), hashlib.sha256)
    d = digest.digest()
    return BeaconPair((d[0] << 8) | d[1], (d[2] << 8) | d[3])


def _days(day: date, skew_days: int) -> list[date]:
    # The exact day first, then the nearest neighbours: the common case stops early in callers.
    out = [day]
    for k in range(1, skew_days + 1):
        out += [day - timedelta(days=k), day + timedelta(days=k)]
    return out


def resolve(
    pair: tuple[int, int],
    candidates: Mapping[str, bytes],
    day: date,
    *,
    skew_days: int = 1,
) -> list[str]:
    """Every install whose pair on ``day`` (± ``skew_days``) equals ``pair``.

    Linear in the number of candidates; for thousands of installs build a :class:`PairIndex`
    once a day instead.

    Args:
        pair: ``(major, minor)`` as seen by a scanner.
        candidates: Install id → secret.
        day: The UTC date of the sighting.
        skew_days: Neighbouring days also accepted (clock skew around midnight).

    Returns:
        Matching install ids, sorted; empty when none, several on a collision.
    """
    wanted = (int(pair[0]), int(pair[1]))
    days = _days(day, skew_days)
    found = {
        install
        for install, secret in candidates.items()
        for d in days
        if beacon_pair(secret, d) == wanted
    }
    return sorted(found)


class PairIndex:
    """Pair → installs for a few days, built once so each lookup is a dict access.

    Args:
        candidates: Install id → secret.
        day: The UTC date the index is for.
        skew_days: Neighbouring days included.
    """

    def __init__(self, candidates: Mapping[str, bytes], day: date, *, skew_days: int = 1) -> None:
        self.day = day
        self.skew_days = skew_days
        self._index: dict[tuple[int, int], set[str]] = {}
        self.add(candidates.items())

    def add(self, installs: Iterable[tuple[str, bytes]]) -> None:
        """Add installs (e.g. ones registered since the index was built)."""
        days = _days(self.day, self.skew_days)
        for install, secret in installs:
            for d in days:
                self._index.setdefault(tuple(beacon_pair(secret, d)), set()).add(install)  # type: ignore[arg-type]

    def lookup(self, pair: tuple[int, int]) -> list[str]:
        """Installs advertising ``pair`` on the index's days, sorted (several on a collision)."""
        return sorted(self._index.get((int(pair[0]), int(pair[1])), ()))

    def __len__(self) -> int:
        return len(self._index)
