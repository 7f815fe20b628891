"""The kiosk's durable state: visit credits waiting for the hub, and customers it has seen.

* **Queued credits.** A visit credit the hub could not take is written here with its idempotency
  key *before* the customer is told "saved", and deleted only once the hub answered. Retrying with
  the same key makes a credit that reached the hub before the connection dropped count once.
* **Known customers.** So that a returning customer can still be greeted and credited while the
  hub is away, the kiosk keeps ``phone_hash -> customer id`` for customers the hub identified
  here. Only a keyed hash of the number is stored (the key is random per kiosk and lives in the
  same file), never the number: the queue holds customer ids only, as MQTT payloads do.

SQLite in WAL mode; one connection shared by the UI and the worker thread behind a lock.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from datetime import datetime
from pathlib import Path

from kiosk.models import VisitRequest
from venue.messages import parse_time, rfc3339
from venue.phone import phone_hash

_SCHEMA = """
CREATE TABLE IF NOT EXISTS visits (
    idempotency_key TEXT PRIMARY KEY,
    customer TEXT NOT NULL,
    business INTEGER NOT NULL,
    at TEXT NOT NULL,
    device TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    queued REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS known (
    hash TEXT PRIMARY KEY,
    customer TEXT NOT NULL,
    masked TEXT NOT NULL,
    seen TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
"""

MAX_KNOWN = 50_000
"""Most remembered customers; the least recently seen are forgotten first."""


class KioskStore:
    """Queued visit credits and the hashed customer cache, in one SQLite file.

    Args:
        path: The database file, or ``":memory:"`` (tests).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        if self.path != ":memory:":
            os.chmod(self.path, 0o600)
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._key = self._hash_key()

    def _hash_key(self) -> bytes:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE name = 'hash_key'").fetchone()
            if row:
                return bytes(row[0])
            key = os.urandom(32)
            self._db.execute("INSERT INTO meta (name, value) VALUES ('hash_key', ?)", (key,))
            return key

    # -- queued visit credits ----------------------------------------------------------------------

    def queue_visit(self, visit: VisitRequest, *, now: float) -> None:
        """Keep a credit for later; a second put of the same key changes nothing."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO visits (idempotency_key, customer, business, at, device,"
                " attempts, queued) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    visit.idempotency_key,
                    visit.customer,
                    visit.business,
                    rfc3339(visit.at),
                    visit.device,
                    visit.attempts,
                    now,
                ),
            )

    def queued_visits(self, limit: int = 50) -> list[VisitRequest]:
        """Oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT idempotency_key, customer, business, at, device, attempts FROM visits"
                " ORDER BY queued, rowid LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            VisitRequest(
                customer=r[1],
                business=int(r[2]),
                idempotency_key=r[0],
                at=parse_time(r[3]),
                device=r[4],
                attempts=int(r[5]),
            )
            for r in rows
        ]

    def visit_sent(self, key: str) -> None:
        """The hub answered this credit: forget it."""
        with self._lock:
            self._db.execute("DELETE FROM visits WHERE idempotency_key = ?", (key,))

    def visit_failed(self, key: str) -> None:
        """Count a failed retry (shown on the maintenance screen)."""
        with self._lock:
            self._db.execute(
                "UPDATE visits SET attempts = attempts + 1 WHERE idempotency_key = ?", (key,)
            )

    def queue_depth(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM visits").fetchone()[0])

    # -- known customers ---------------------------------------------------------------------------

    def remember(self, e164: str, customer: str, masked: str, *, seen: datetime) -> None:
        """Note that ``e164`` is ``customer`` (by keyed hash only)."""
        with self._lock:
            self._db.execute(
                "INSERT INTO known (hash, customer, masked, seen) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (hash) DO UPDATE SET customer = excluded.customer,"
                " masked = excluded.masked, seen = excluded.seen",
                (phone_hash(e164, self._key), customer, masked, rfc3339(seen)),
            )
            n = int(self._db.execute("SELECT COUNT(*) FROM known").fetchone()[0])
            if n > MAX_KNOWN:
                self._db.execute(
                    "DELETE FROM known WHERE hash IN (SELECT hash FROM known ORDER BY seen"
                    " LIMIT ?)",
                    (n - MAX_KNOWN,),
                )

    def recall(self, e164: str) -> tuple[str, str] | None:
        """``(customer, masked phone)`` of a number seen here before, else ``None``."""
        with self._lock:
            row = self._db.execute(
                "SELECT customer, masked FROM known WHERE hash = ?",
                (phone_hash(e164, self._key),),
            ).fetchone()
        return (row[0], row[1]) if row else None

    def close(self) -> None:
        with self._lock:
            self._db.close()
