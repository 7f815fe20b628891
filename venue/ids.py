"""UUIDv7 identifiers: unique, and sortable by creation time, so event ids order like the events."""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7(ms: int | None = None) -> uuid.UUID:
    """A version 7 UUID (RFC 9562) with a 12-bit counter so ids made in one millisecond still sort.

    Args:
        ms: Unix time in milliseconds, taken as given; defaults to now, kept monotonic.
    """
    global _last_ms, _counter
    if ms is not None:  # an explicit time is taken as given, outside the monotonic sequence
        return _build(ms, int.from_bytes(os.urandom(2), "big") & 0xFFF)
    with _lock:
        now_ms = int(time.time() * 1000)
        if now_ms <= _last_ms:
            _counter += 1
            if _counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                _last_ms += 1
                _counter = 0
            now_ms = _last_ms
        else:
            _last_ms = now_ms
            _counter = int.from_bytes(os.urandom(2), "big") & 0x3FF  # leave room to count up
        counter = _counter
    return _build(now_ms, counter)


def _build(now_ms: int, counter: int) -> uuid.UUID:
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (now_ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= counter << 64
    value |= 0b10 << 62
    value |= rand_b
    return uuid.UUID(int=value)


def new_id() -> str:
    """A new UUIDv7 as its canonical string."""
    return str(uuid7())
