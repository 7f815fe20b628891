"""The ``check_holder`` hint of a redemption answer, for tickets bound to the holder's phone.

When a series is ``bound_to_phone``, the gate or validator may ask the person at the gate for the
last digits of the phone number the ticket was sold to. The answer carries only the masked number
(``+380 •• ••• •• 67``), never the clear one.

Redemption is the hub's hot path, so the set of bound series is kept per database (per connection
pool) for :data:`TTL` seconds: a scan of a ticket of any other series costs nothing, and only a
bound series' admission makes one indexed query for the masked number. Setting a series' rules
in this process drops the set at once; another hub process on the same database sees the change
within the TTL (it is a hint for staff, not a decision).
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.pool import Pool

TTL = 5.0
_BOUND = text("SELECT series_id FROM series_sales_rules WHERE bound_to_phone = :yes")
_MASKED = text(
    "SELECT c.masked FROM codes k JOIN loyalty_customers c ON c.id = k.customer_id "
    "WHERE k.id = :id"
)
_lock = threading.Lock()
_cache: weakref.WeakKeyDictionary[Pool, tuple[float, frozenset[int]]] = (
    weakref.WeakKeyDictionary())


def bound_series(conn: Connection, mono: float) -> frozenset[int]:
    """The ids of the series bound to a phone, read again when older than :data:`TTL`."""
    pool = conn.engine.pool
    with _lock:
        hit = _cache.get(pool)
    if hit is not None and 0 <= mono - hit[0] < TTL:
        return hit[1]
    ids = frozenset(int(r[0]) for r in conn.execute(_BOUND, {"yes": True}))
    with _lock:
        _cache[pool] = (mono, ids)
    return ids


def forget(conn: Connection) -> None:
    """Drop this database's cached set (after a series' rules changed here)."""
    with _lock:
        _cache.pop(conn.engine.pool, None)


def holder_hint(conn: Connection, code_id: int, series_id: int,
                mono: float) -> dict[str, Any] | None:
    """``{"masked_phone", "ask"}`` when the code's series binds tickets to the holder's phone.

    ``mono`` is the caller's monotonic clock reading (for the cache's age).
    """
    if series_id not in bound_series(conn, mono):
        return None
    masked = conn.execute(_MASKED, {"id": code_id}).scalar()
    if masked is None:  # an anonymous ticket: nobody to ask about
        return None
    return {"masked_phone": masked, "ask": "phone_last_digits"}
