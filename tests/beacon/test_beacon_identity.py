"""Rotating (major, minor): pinned test vectors (also in docs/beacon.md), an independent HMAC,
resolution across neighbouring days, and what a stranger sees."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from beacon.identity import beacon_pair as role_beacon_pair
from venue.beacon_ids import PairIndex, beacon_pair, resolve, utc_day

VECTORS = [
    ("000102030405060708090a0b0c0d0e0f", "2026-01-01", 32691, 23508),
    ("000102030405060708090a0b0c0d0e0f", "2026-01-02", 46822, 14311),
    ("5e" * 32, "2026-11-23", 10824, 998),
    ("ffeeddccbbaa99887766554433221100", "2024-02-29", 47308, 33693),
]


def hmac_sha256_by_hand(key: bytes, msg: bytes) -> bytes:
    """RFC 2104 from hashlib alone, so the vectors do not rest on the code under test."""
    block = 64
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    inner = hashlib.sha256(bytes(k ^ 0x36 for k in key) + msg).digest()
    return hashlib.sha256(bytes(k ^ 0x5C for k in key) + inner).digest()


@pytest.mark.parametrize(("secret", "day", "major", "minor"), VECTORS)
def test_vectors(secret: str, day: str, major: int, minor: int) -> None:
    key = bytes.fromhex(secret)
    d = hmac_sha256_by_hand(key, b"venue-beacon-v1:" + day.encode())
    assert (int.from_bytes(d[0:2], "big"), int.from_bytes(d[2:4], "big")) == (major, minor)
    assert beacon_pair(key, date.fromisoformat(day)) == (major, minor)
    assert role_beacon_pair(key, date.fromisoformat(day)) == (major, minor)


def test_short_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        beacon_pair(b"too short", date(2026, 1, 1))


def test_utc_day_uses_utc_not_local_time() -> None:
    late_in_kyiv = datetime(2026, 1, 2, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    assert utc_day(late_in_kyiv) == date(2026, 1, 1)
    with pytest.raises(ValueError):
        utc_day(datetime(2026, 1, 1))


def test_pair_changes_every_day() -> None:
    secret = os.urandom(32)
    pairs = {beacon_pair(secret, date(2026, 1, 1) + timedelta(days=i)) for i in range(30)}
    assert len(pairs) == 30  # a stranger cannot link one day's pair to the next


def test_resolve_finds_the_install_on_the_day_and_its_neighbours() -> None:
    installs = {f"inst-{i}": os.urandom(16) for i in range(200)}
    day = utc_day(datetime(2026, 3, 10, 23, 59, tzinfo=UTC))
    for offset in (-1, 0, 1):
        pair = beacon_pair(installs["inst-42"], day + timedelta(days=offset))
        assert resolve(pair, installs, day) == ["inst-42"]
    two_days_off = beacon_pair(installs["inst-42"], day + timedelta(days=2))
    assert resolve(two_days_off, installs, day) == []
    assert resolve(two_days_off, installs, day, skew_days=2) == ["inst-42"]


def test_resolve_returns_every_match_on_a_collision() -> None:
    secret = os.urandom(16)
    both = {"a": secret, "b": secret}  # the same secret twice stands in for a 32-bit collision
    assert resolve(beacon_pair(secret, date(2026, 1, 1)), both, date(2026, 1, 1)) == ["a", "b"]


def test_index_agrees_with_resolve() -> None:
    installs = {f"i{i}": os.urandom(16) for i in range(300)}
    day = date(2026, 5, 5)
    index = PairIndex(installs, day)
    assert len(index) >= 3 * 300 - 2  # three days each, collisions aside
    for name in ("i0", "i150", "i299"):
        pair = beacon_pair(installs[name], day)
        assert index.lookup(pair) == resolve(pair, installs, day) == [name]
    late = os.urandom(16)
    index.add([("late", late)])
    assert index.lookup(beacon_pair(late, day + timedelta(days=1))) == ["late"]
