"""A durable, bounded FIFO of messages waiting for the broker's PUBACK.

An event handed to the MQTT link must survive a broker outage and a ``kill -9`` of the device
process, so the link writes it here *before* it returns to the caller and deletes it only after the
broker acknowledged it. Delivery is therefore at least once: a crash between PUBACK and the delete
resends a message, and the hub drops the duplicate by event id.

Durability: SQLite in WAL mode, one transaction per :meth:`put` (or :meth:`put_many` burst).
With ``synchronous="NORMAL"`` (the default) a committed ``put`` is in the WAL file, i.e. in the
kernel's page cache, so it survives ``kill -9``, an exception, an OOM kill or a systemd restart of
the process: the kernel writes it out whether or not the process lives. What NORMAL alone does not
cover is the machine losing power before the kernel wrote the page, so :meth:`flush` fsyncs the
WAL and the MQTT link calls it from its sender thread at most every ``flush_interval`` second when
something was written: a power cut loses at most that last second of events and never corrupts
the file. ``synchronous="FULL"`` fsyncs inside every ``put`` instead (nothing is lost on a power
cut), at the price of an fsync per event: measured on this project's CI disk, about 4x fewer
events/s through the link than NORMAL (``bench/bench_mqtt_link.py``), and on an SD card more.
Deletes after PUBACK never fsync: losing one only means a duplicate, which the hub drops.

Bounds: at most ``max_items`` rows. When full, the oldest *telemetry* goes first; when only
events are left, ``when_full="shed_oldest"`` (default) drops the oldest event so a device that
was cut off for days keeps recording the newest, while ``when_full="refuse"`` raises
:class:`OutboxFull` instead. Incoming telemetry is never allowed to push out an event: it is
refused (``put`` returns 0). Every shed item is counted, durably, in :meth:`stats`.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from venue.errors import VenueError

log = logging.getLogger(__name__)

KINDS = ("event", "telemetry")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    kind TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_kind ON outbox (kind, seq);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class OutboxFull(VenueError, RuntimeError):
    """The outbox holds ``max_items`` events and was built with ``when_full="refuse"``."""


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One queued message.

    Attributes:
        seq: Position in the queue; increases with every put and is never reused.
        topic: MQTT topic.
        payload: Bytes as they go on the wire.
        qos: MQTT QoS to send with.
        retain: MQTT retain flag.
        kind: ``"event"`` or ``"telemetry"``; decides what is shed first.
        created: Unix time when it was queued (for age in telemetry).
    """

    seq: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    kind: str
    created: float


class Outbox:
    """SQLite-backed FIFO; thread-safe (one connection behind a lock).

    Only one process may use a file at a time: the database is opened with an exclusive lock, so
    a second daemon started by mistake fails loudly instead of sending everything twice.
    Pass ``":memory:"`` for an outbox with the same behaviour that is *not* durable.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        max_items: int = 100_000,
        synchronous: Literal["FULL", "NORMAL"] = "NORMAL",
        flush_interval: float = 1.0,
        when_full: Literal["shed_oldest", "refuse"] = "shed_oldest",
    ) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError("synchronous must be 'FULL' or 'NORMAL'")
        if when_full not in ("shed_oldest", "refuse"):
            raise ValueError("when_full must be 'shed_oldest' or 'refuse'")
        self.path = str(path)
        self.max_items = max_items
        self.synchronous = synchronous
        self.flush_interval = flush_interval
        self._unflushed = False
        self._last_flush = time.monotonic()
        self.when_full = when_full
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, one transaction per call.
        self._db = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=1.0
        )
        self._db.execute("PRAGMA locking_mode=EXCLUSIVE")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.executescript(_SCHEMA)
        self._depth = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        self._telemetry = self._db.execute(
            "SELECT COUNT(*) FROM outbox WHERE kind = 'telemetry'"
        ).fetchone()[0]
        self._closed = False

    # -- writing -------------------------------------------------------------------------------

    def put(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        kind: str = "event",
    ) -> int:
        """Queue one message; it is on disk (see module doc) when this returns.

        Returns:
            The new ``seq``, or 0 when a telemetry item was refused because the outbox is full of
            events.

        Raises:
            OutboxFull: Full of events and ``when_full="refuse"``.
        """
        return self.put_many([(topic, payload, qos, retain, kind)])[0]

    def put_many(self, items: Sequence[tuple[str, bytes, int, bool, str]]) -> list[int]:
        """Queue a burst of ``(topic, payload, qos, retain, kind)`` in one transaction (one fsync).

        Returns one seq (or 0, see :meth:`put`) per item, in order.
        """
        for _, payload, qos, _, kind in items:
            if kind not in KINDS:
                raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
            if qos not in (0, 1, 2):
                raise ValueError(f"qos must be 0, 1 or 2, not {qos!r}")
            if not isinstance(payload, (bytes, bytearray)):
                raise TypeError("payload must be bytes")
        now = time.time()
        seqs: list[int] = []
        with self._lock:
            self._check_open()
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            depth, tele = self._depth, self._telemetry
            shed = {"shed_telemetry": 0, "shed_events": 0}
            try:
                for topic, payload, qos, retain, kind in items:
                    if depth >= self.max_items:
                        if tele > 0:
                            db.execute(
                                "DELETE FROM outbox WHERE seq = (SELECT MIN(seq) FROM outbox"
                                " WHERE kind = 'telemetry')"
                            )
                            tele -= 1
                            depth -= 1
                            shed["shed_telemetry"] += 1
                        elif kind == "telemetry":
                            shed["shed_telemetry"] += 1
                            seqs.append(0)
                            continue
                        elif self.when_full == "refuse":
                            raise OutboxFull(
                                f"outbox {self.path} holds {depth} events (max_items)"
                            )
                        else:
                            db.execute(
                                "DELETE FROM outbox WHERE seq = (SELECT MIN(seq) FROM outbox)"
                            )
                            depth -= 1
                            shed["shed_events"] += 1
                    cur = db.execute(
                        "INSERT INTO outbox (topic, payload, qos, retain, kind, created)"
                        " VALUES (?, ?, ?, ?, ?, ?)",
                        (topic, bytes(payload), qos, int(retain), kind, now),
                    )
                    seqs.append(int(cur.lastrowid or 0))
                    depth += 1
                    tele += kind == "telemetry"
                for name, n in shed.items():
                    if n:
                        self._bump(name, n)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._depth, self._telemetry = depth, tele
            self._unflushed = self.synchronous != "FULL" and self.path != ":memory:"
        if shed["shed_events"]:
            log.warning(
                "outbox %s full (%d): shed %d oldest event(s)",
                self.path,
                self.max_items,
                shed["shed_events"],
            )
        return seqs

    def _bump(self, name: str, n: int) -> None:
        self._db.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            (name, n),
        )

    # -- reading and acknowledging -------------------------------------------------------------

    def peek(self, limit: int = 100) -> list[OutboxItem]:
        """The oldest ``limit`` items, oldest first, without removing them."""
        return self.peek_after(0, limit)

    def peek_after(self, seq: int, limit: int = 100) -> list[OutboxItem]:
        """Items with a seq greater than ``seq``, oldest first: the sender's cursor read."""
        with self._lock:
            self._check_open()
            rows = self._db.execute(
                "SELECT seq, topic, payload, qos, retain, kind, created FROM outbox"
                " WHERE seq > ? ORDER BY seq LIMIT ?",
                (seq, limit),
            ).fetchall()
        return [OutboxItem(r[0], r[1], bytes(r[2]), r[3], bool(r[4]), r[5], r[6]) for r in rows]

    def ack(self, seq: int) -> None:
        """Remove ``seq`` (the broker has it). Unknown or already removed seqs are ignored."""
        self.ack_many([seq])

    def ack_many(self, seqs: Iterable[int]) -> None:
        """Remove several seqs in one transaction; the link batches PUBACKs this way."""
        batch = list(seqs)
        if not batch:
            return
        with self._lock:
            self._check_open()
            db = self._db
            if self.synchronous == "FULL":
                db.execute("PRAGMA synchronous=NORMAL")  # a lost delete is only a duplicate
            db.execute("BEGIN IMMEDIATE")
            try:
                for i in range(0, len(batch), 500):
                    chunk = batch[i : i + 500]
                    marks = ",".join("?" * len(chunk))
                    tele = db.execute(
                        "SELECT COUNT(*) FROM outbox WHERE kind = 'telemetry'"
                        f" AND seq IN ({marks})",
                        chunk,
                    ).fetchone()[0]
                    cur = db.execute(f"DELETE FROM outbox WHERE seq IN ({marks})", chunk)
                    self._depth -= cur.rowcount
                    self._telemetry -= tele
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                self._recount()
                raise
            finally:
                if self.synchronous == "FULL":
                    db.execute("PRAGMA synchronous=FULL")

    def flush(self, *, if_older_than: float = 0.0) -> bool:
        """fsync the WAL so every committed put also survives a power cut (see module doc).

        Args:
            if_older_than: Only when the last flush was at least this many seconds ago; the link
                passes ``flush_interval`` on every turn of its sender loop.

        Returns:
            True when it synced something.
        """
        with self._lock:
            if not self._unflushed or self._closed:
                return False
            now = time.monotonic()
            if now - self._last_flush < if_older_than:
                return False
            self._unflushed = False
            self._last_flush = now
            try:
                fd = os.open(self.path + "-wal", os.O_RDONLY)
            except FileNotFoundError:
                return False
        try:
            os.fsync(fd)  # fsync is per file, not per descriptor: this syncs SQLite's writes
        finally:
            os.close(fd)
        return True

    def _recount(self) -> None:
        self._depth = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        self._telemetry = self._db.execute(
            "SELECT COUNT(*) FROM outbox WHERE kind = 'telemetry'"
        ).fetchone()[0]

    # -- introspection -------------------------------------------------------------------------

    def depth(self) -> int:
        """How many items wait for a PUBACK."""
        with self._lock:
            return self._depth

    def stats(self) -> dict[str, int]:
        """``depth``, ``telemetry``, ``max_items``, ``shed_telemetry``, ``shed_events``.

        Shed counters are stored in the database, so they survive restarts until
        :meth:`reset_counters`.
        """
        with self._lock:
            self._check_open()
            counters = dict(self._db.execute("SELECT name, value FROM counters").fetchall())
            return {
                "depth": self._depth,
                "telemetry": self._telemetry,
                "max_items": self.max_items,
                "shed_telemetry": int(counters.get("shed_telemetry", 0)),
                "shed_events": int(counters.get("shed_events", 0)),
            }

    def reset_counters(self) -> None:
        """Zero the shed counters (e.g. after an operator has seen them)."""
        with self._lock:
            self._check_open()
            self._db.execute("DELETE FROM counters")

    def close(self) -> None:
        """Flush, then close the database; further calls raise ``RuntimeError``. Idempotent."""
        self.flush()
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"outbox {self.path} is closed")

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Outbox({self.path!r}, depth={self._depth}, max_items={self.max_items})"
