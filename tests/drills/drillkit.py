"""Helpers shared by the drills: a persistent broker, ledger queries, integrity checks, events.

The drills run the real programs (``venue hub``, ``venue gate``, Mosquitto, SQLite, PostgreSQL)
and judge them only by what they leave behind: rows in the hub's database, rows in a gate's
journal, messages seen on the broker by an independent paho client, pulses in the mock pins'
trace file.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from helpers_mqtt import Collector
from sqlalchemy import create_engine, text

from venue.messages import Event

LONG_DRILLS = os.environ.get("VENUE_DRILLS", "") == "1"
"""``make drills`` sets ``VENUE_DRILLS=1``: long drills run, repeated drills repeat more."""


def persistent_conf(workdir: Path) -> str:
    """Mosquitto config body of a real venue broker: it keeps sessions across a restart.

    Debian's packaged broker runs with ``persistence true``; without it a broker restart would
    drop the QoS 1 messages queued for the hub's persistent session (that is the broker's promise,
    not ours, so the drills run the broker the way a venue does).

    ``max_queued_messages`` is raised from Mosquitto's default of 1000: with the default, a hub
    that is down while devices report more than 1000 events loses the rest at the broker (the
    devices have their PUBACKs). The hub-kill drill on PostgreSQL lost 101 of 1500 that way. A
    venue's broker needs the same line (firmware_config's broker snippet does not write it yet).
    """
    store = workdir / "mosq-store"
    store.mkdir(parents=True, exist_ok=True)
    return (
        "allow_anonymous true\n"
        "persistence true\n"
        f"persistence_location {store}/\n"
        "autosave_interval 1\n"
        "max_queued_messages 1000000\n"
    )


def sql(db_url: str, query: str, **params: Any) -> list[tuple[Any, ...]]:
    """Rows of ``query`` on the hub's database (SQLite file or PostgreSQL), read directly."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(query), params)]
    finally:
        engine.dispose()


def integrity(path: Path) -> str:
    """``PRAGMA integrity_check`` of a SQLite file ("ok" when sound); WAL is replayed first."""
    db = sqlite3.connect(path, timeout=10)
    try:
        return ";".join(str(r[0]) for r in db.execute("PRAGMA integrity_check"))
    finally:
        db.close()


def sqlite_files(root: Path) -> list[Path]:
    """Every SQLite database under ``root`` (by its header, not its name)."""
    out = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.name.endswith(("-wal", "-shm", "-journal")):
            with open(p, "rb") as f:
                if f.read(16) == b"SQLite format 3\x00":
                    out.append(p)
    return out


def journal_rows(data_dir: Path) -> list[dict[str, Any]]:
    db = sqlite3.connect(data_dir / "gate-journal.db", timeout=10)
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM redemptions ORDER BY seq")]
    finally:
        db.close()


class Events:
    """Every event of a site as an independent paho subscriber saw it (duplicates included)."""

    def __init__(self, port: int, site: str = "s1") -> None:
        self.c = Collector(port, f"venue/v1/{site}/+/+/event/#", f"venue/v1/{site}/+/+/status",
                           f"venue/v1/{site}/+/+/telemetry", f"venue/v1/{site}/+/+/cmd_result")
        self.c.wait_subscribed()
        self.site = site

    def events(self, type_: str, device: str | None = None) -> list[Event]:
        out = []
        for m in self.c.all():
            if "/event/" in m.topic and m.topic.endswith("/" + type_):
                ev = Event.decode(m.payload)
                if device is None or ev.device == device:
                    out.append(ev)
        return out

    def scans(self, device: str) -> list[dict[str, Any]]:
        """``gate.scan`` data, one per event id, in arrival order."""
        seen: dict[str, dict[str, Any]] = {}
        for ev in self.events("gate.scan", device):
            seen.setdefault(ev.id, ev.data)
        return list(seen.values())

    def ids_per_nonce(self, device: str, type_: str = "gate.scan") -> dict[str, set[str]]:
        ids: dict[str, set[str]] = defaultdict(set)
        for ev in self.events(type_, device):
            ids[ev.data["nonce"]].add(ev.id)
        return ids

    def online(self, role: str, device: str) -> bool:
        msgs = self.c.on(f"venue/v1/{self.site}/{role}/{device}/status")
        return bool(msgs) and json.loads(msgs[-1].payload)["state"] == "online"

    def telemetry(self, role: str, device: str) -> list[dict[str, Any]]:
        return [json.loads(m.payload)
                for m in self.c.on(f"venue/v1/{self.site}/{role}/{device}/telemetry")]

    def close(self) -> None:
        self.c.close()


def wait_until(cond: Callable[[], Any], timeout: float, what: str, *,
               every: float = 0.05) -> Any:
    """Poll ``cond`` until truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def counts(values: Iterable[Any]) -> dict[Any, int]:
    out: dict[Any, int] = defaultdict(int)
    for v in values:
        out[v] += 1
    return dict(out)
