"""The gate's redemption journal: every decision, on disk, before the turnstile moves.

SQLite in WAL mode with ``synchronous=FULL``: when :meth:`Journal.record` returns, the decision
survives ``kill -9`` and a power cut. The daemon pulses the relay only after that, so a crash can
leave a record without an opening (annulled on restart) but never an opening without a record.

Each row also carries the ids of the events that report it (``gate.scan`` uses the nonce as its
event id, ``gate.passage`` an id chosen when the passage is known) and whether they were handed to
the MQTT outbox. Ids are chosen before the hand-off, so a hand-off repeated after a crash sends the
same event id, which the outbox and the hub drop as a duplicate.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from gate.decision import Usage
from venue.messages import parse_time

_SCHEMA = """
CREATE TABLE IF NOT EXISTS redemptions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    nonce TEXT NOT NULL UNIQUE,
    scanned_at TEXT NOT NULL,
    source TEXT NOT NULL,
    direction TEXT NOT NULL,
    result TEXT NOT NULL,
    reason TEXT NOT NULL,
    offline INTEGER NOT NULL,
    ref TEXT,
    series INTEGER,
    first_used_at TEXT,
    first_gate TEXT,
    latency_ms REAL NOT NULL DEFAULT 0,
    by TEXT,
    state TEXT NOT NULL,
    scan_queued INTEGER NOT NULL DEFAULT 0,
    passage_event_id TEXT,
    passed INTEGER,
    annulled INTEGER NOT NULL DEFAULT 0,
    hub_annul_pending INTEGER NOT NULL DEFAULT 0,
    passage_queued INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS redemptions_ref ON redemptions (ref, scanned_at);
CREATE TABLE IF NOT EXISTS operations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    name TEXT NOT NULL,
    by TEXT NOT NULL,
    args TEXT NOT NULL
);
"""

# Row states: ``intent`` (about to ask the hub; written without fsync, it only has to survive a
# process kill), ``decided`` (recorded, relay not yet driven), ``actuated`` (relay pulsed, waiting
# for the rotation sensor), ``done`` (passage known or not needed), ``void`` (an intent that never
# became a decision; its hub redemption, if any, was annulled).
INTENT, DECIDED, ACTUATED, DONE, VOID = "intent", "decided", "actuated", "done", "void"


@dataclass(frozen=True, slots=True)
class Entry:
    """One journal row (see the schema for the meaning of each column)."""

    nonce: str
    scanned_at: str
    source: str
    direction: str
    result: str
    reason: str
    offline: bool
    ref: str | None = None
    series: int | None = None
    first_used_at: str | None = None
    first_gate: str | None = None
    latency_ms: float = 0.0
    by: str | None = None
    state: str = DECIDED
    scan_queued: bool = False
    passage_event_id: str | None = None
    passed: bool | None = None
    annulled: bool = False
    hub_annul_pending: bool = False
    passage_queued: bool = False
    seq: int = 0


_COLS = [f.name for f in fields(Entry) if f.name != "seq"]


class Journal:
    """Durable local log of every decision; implements the history the offline decision reads."""

    def __init__(self, path: str | Path, *, synchronous: str = "FULL") -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self.synchronous = synchronous
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def intent(self, nonce: str, scanned_at: str, source: str, direction: str) -> None:
        """Note that the hub is about to be asked about ``nonce``.

        Written with ``synchronous=NORMAL`` (no fsync; it survives ``kill -9``, which is what it
        is for, and costs microseconds): if the process dies before the decision is recorded, the
        restart annuls whatever the hub may have admitted under this nonce.
        """
        with self._lock:
            self._db.execute("PRAGMA synchronous=NORMAL")
            try:
                with self._tx() as db:
                    db.execute(
                        "INSERT OR IGNORE INTO redemptions (nonce, scanned_at, source, direction,"
                        " result, reason, offline, state) VALUES (?, ?, ?, ?, '', '', 0, ?)",
                        (nonce, scanned_at, source, direction, INTENT),
                    )
            finally:
                self._db.execute(f"PRAGMA synchronous={self.synchronous}")

    def record(self, entry: Entry) -> int:
        """Write a decision durably; returns its sequence number.

        A repeated nonce (a retry of the same scan) keeps the first row and returns its seq; an
        :meth:`intent` row of the same nonce becomes the decision.
        """
        values = [getattr(entry, c) for c in _COLS]
        with self._tx() as db:
            row = db.execute(
                "SELECT seq, state FROM redemptions WHERE nonce = ?", (entry.nonce,)
            ).fetchone()
            if row is not None and row[1] == INTENT:
                sets = ", ".join(f"{c} = ?" for c in _COLS)
                db.execute(f"UPDATE redemptions SET {sets} WHERE seq = ?", [*values, row[0]])
                return int(row[0])
            if row is not None:
                return int(row[0])
            cur = db.execute(
                f"INSERT INTO redemptions ({', '.join(_COLS)})"
                f" VALUES ({', '.join('?' * len(_COLS))})",
                values,
            )
            return int(cur.lastrowid or 0)

    def update(self, nonce: str, **changes: Any) -> None:
        """Change columns of one row in one durable transaction."""
        bad = set(changes) - set(_COLS)
        if bad:
            raise ValueError(f"unknown journal columns {sorted(bad)}")
        sets = ", ".join(f"{k} = ?" for k in changes)
        with self._tx() as db:
            db.execute(f"UPDATE redemptions SET {sets} WHERE nonce = ?", [*changes.values(), nonce])

    def get(self, nonce: str) -> Entry | None:
        rows = self._select("WHERE nonce = ?", (nonce,))
        return rows[0] if rows else None

    def _select(self, where: str, params: tuple[Any, ...] = ()) -> list[Entry]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {', '.join(_COLS)}, seq FROM redemptions {where}", params
            ).fetchall()
        out = []
        for r in rows:
            d = dict(zip([*_COLS, "seq"], r, strict=True))
            for b in ("offline", "scan_queued", "annulled", "hub_annul_pending", "passage_queued"):
                d[b] = bool(d[b])
            d["passed"] = None if d["passed"] is None else bool(d["passed"])
            out.append(Entry(**d))
        return out

    def all(self) -> list[Entry]:
        return self._select("ORDER BY seq")

    def unfinished(self) -> list[Entry]:
        """Admissions whose passage was never settled (a crash or stop between record and end)."""
        return self._select(
            "WHERE result = 'admit' AND state IN (?, ?) ORDER BY seq", (DECIDED, ACTUATED)
        )

    def intents(self) -> list[Entry]:
        """Hub questions whose answer was never recorded (the process died in between)."""
        return self._select("WHERE state = ? ORDER BY seq", (INTENT,))

    def pending_scan_events(self) -> list[Entry]:
        return self._select(
            "WHERE scan_queued = 0 AND state NOT IN (?, ?) ORDER BY seq", (INTENT, VOID)
        )

    def pending_passage_events(self) -> list[Entry]:
        return self._select(
            "WHERE passage_event_id IS NOT NULL AND passage_queued = 0 ORDER BY seq"
        )

    def pending_hub_annulments(self) -> list[Entry]:
        return self._select("WHERE hub_annul_pending = 1 ORDER BY seq")

    def usage(self, ref: str, since: datetime | None = None) -> Usage:
        """This gate's admissions of ``ref`` (after ``since`` if given), annulled ones excluded."""
        sql = (
            "SELECT direction, scanned_at FROM redemptions"
            " WHERE ref = ? AND result = 'admit' AND annulled = 0 ORDER BY seq"
        )
        with self._lock:
            rows = self._db.execute(sql, (ref,)).fetchall()
        entries, inside, first = 0, False, None
        for direction, scanned_at in rows:
            at = parse_time(scanned_at)
            if first is None:
                first = at
            if since is not None and at <= since:
                continue
            if direction == "in":
                entries += 1
                inside = True
            else:
                inside = False
        return Usage(entries=entries, inside=inside, first_used_at=first, first_gate=None)

    def prune(self, before: str) -> int:
        """Delete settled rows scanned before ``before`` (RFC 3339) whose events were handed.

        By then the hub holds them and the replica's ``used`` list speaks for them; rows still
        owed to the outbox or to the hub are kept whatever their age. Operations are kept (audit).
        """
        with self._tx() as db:
            cur = db.execute(
                "DELETE FROM redemptions WHERE scanned_at < ? AND state IN (?, ?)"
                " AND (scan_queued = 1 OR state = ?) AND hub_annul_pending = 0"
                " AND (passage_event_id IS NULL OR passage_queued = 1)",
                (before, DONE, VOID, VOID),
            )
            return int(cur.rowcount)

    def operation(self, at: str, name: str, by: str, args: str = "{}") -> None:
        """Record an operator command (``open``, ``lock``, ...) with who asked."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO operations (at, name, by, args) VALUES (?, ?, ?, ?)",
                (at, name, by, args),
            )

    def operations(self) -> list[tuple[str, str, str, str]]:
        with self._lock:
            return list(self._db.execute("SELECT at, name, by, args FROM operations ORDER BY seq"))

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute(
                "SELECT result, COUNT(*) FROM redemptions GROUP BY result"
            ).fetchall()
        return {str(r): int(n) for r, n in rows}


class JournalHistory:
    """The journal as the offline decision's :class:`gate.decision.LocalHistory`.

    It reports only the admissions the replica cannot be assumed to include: those after the
    replica's hub time, and never fewer than this gate's own total minus what the hub listed (an
    offline admission uploaded after the last refresh must still count).
    """

    def __init__(self, journal: Journal, replica: Any, gate_id: str) -> None:
        self.journal = journal
        self.replica = replica
        self.gate_id = gate_id

    def usage(self, ref: str) -> Usage | None:
        total = self.journal.usage(ref)
        if total.first_used_at is None:
            return None
        after = self.journal.usage(ref, getattr(self.replica, "hub_time", None))
        hub = self.replica.used(ref)
        known = hub.entries if hub is not None else 0
        entries = max(after.entries, total.entries - known)
        return Usage(
            entries=entries,
            inside=after.inside if after.entries or hub is None else hub.inside,
            first_used_at=total.first_used_at,
            first_gate=self.gate_id,
        )
