"""Lost and doubled rows: what the devices sent against what the database holds.

:func:`compare` is pure (plain sets and counts in, figures out); :func:`read_stored` is the one
place that queries the database, by the keys the devices sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from loadsim.record import Sent


@dataclass
class Stored:
    """Rows found for the sent keys: counts per key, so a doubled row would show."""

    redemptions: dict[str, int] = field(default_factory=dict)
    """nonce → rows."""
    results: dict[str, tuple[str, str]] = field(default_factory=dict)
    """nonce → (result, reason) stored."""
    admits_per_ref: dict[str, int] = field(default_factory=dict)
    """ticket ref → counted admissions."""
    events: dict[str, int] = field(default_factory=dict)
    ledger: dict[str, int] = field(default_factory=dict)


@dataclass
class Audit:
    lost_redemptions: int = 0
    lost_events: int = 0
    lost_ledger: int = 0
    doubled_redemptions: int = 0
    doubled_admissions: int = 0
    doubled_events: int = 0
    doubled_ledger: int = 0
    answer_mismatch: int = 0
    """Online answers that differ from the stored row, or from what the scan had to get."""
    offline_rejected: int = 0
    """Offline admissions the hub recorded with another reason (must be 0: fresh codes)."""

    @property
    def lost(self) -> int:
        return self.lost_redemptions + self.lost_events + self.lost_ledger

    @property
    def doubled(self) -> int:
        return (self.doubled_redemptions + self.doubled_admissions + self.doubled_events
                + self.doubled_ledger)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "lost": self.lost, "doubled": self.doubled}


def _lost_doubled(sent: Iterable[str], stored: dict[str, int]) -> tuple[int, int]:
    lost = doubled = 0
    for key in sent:
        n = stored.get(key, 0)
        lost += n == 0
        doubled += max(0, n - 1)
    return lost, doubled


def compare(sent: Sent, stored: Stored) -> Audit:
    a = Audit()
    a.lost_redemptions, a.doubled_redemptions = _lost_doubled(sent.nonces, stored.redemptions)
    a.lost_events, a.doubled_events = _lost_doubled(sent.events, stored.events)
    a.lost_ledger, a.doubled_ledger = _lost_doubled(sent.ledger_keys, stored.ledger)
    refs = set(sent.nonces.values())
    a.doubled_admissions = sum(max(0, stored.admits_per_ref.get(r, 0) - 1) for r in refs)
    for nonce, got in sent.answers.items():
        row = stored.results.get(nonce)
        if (row is not None and row != got) or got[0] != sent.expected[nonce]:
            a.answer_mismatch += 1
    a.offline_rejected = sum(1 for n in sent.offline
                             if n in stored.results and stored.results[n] != ("admit", "ok"))
    return a


def _rows(conn: Any, sql: str, keys: Iterable[str], sqlite: bool) -> list[Any]:
    """``sql`` with ``{keys}`` standing for "is one of ``keys``" (``= ANY`` on PostgreSQL,
    ``IN (...)`` in chunks on SQLite)."""
    keys = list(keys)
    if not sqlite:
        return list(conn.execute(sql.format(keys="= ANY(%s)"), (keys,)))
    out: list[Any] = []
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        marks = ",".join("?" * len(chunk))
        out += conn.execute(sql.format(keys=f"IN ({marks})"), chunk).fetchall()
    return out


def read_stored(conn: Any, sent: Sent, *, sqlite: bool = False) -> Stored:
    """Query the rows for the sent keys (a psycopg or a sqlite3 connection)."""
    out = Stored()
    for nonce, n, result, reason in _rows(
            conn, "SELECT nonce, count(*), min(result), min(reason) FROM redemptions "
            "WHERE nonce {keys} GROUP BY nonce", sent.nonces, sqlite):
        out.redemptions[nonce] = int(n)
        out.results[nonce] = (result, reason)
    for ref, n in _rows(
            conn, "SELECT ref, count(*) FROM redemptions WHERE ref {keys} AND result = 'admit' "
            "AND counted GROUP BY ref", set(sent.nonces.values()), sqlite):
        out.admits_per_ref[ref] = int(n)
    for eid, n in _rows(conn, "SELECT id, count(*) FROM events WHERE id {keys} GROUP BY id",
                        sent.events, sqlite):
        out.events[eid] = int(n)
    for key, n in _rows(conn, "SELECT idempotency_key, count(*) FROM loyalty_ledger "
                        "WHERE idempotency_key {keys} GROUP BY idempotency_key",
                        sent.ledger_keys, sqlite):
        out.ledger[key] = int(n)
    return out
