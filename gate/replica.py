"""The gate's local replica of the hub's rules, in SQLite, and the thread that keeps it fresh.

The replica is what lets a gate keep deciding when the network is gone: public keys, series rules,
code statuses, imported-code hashes, shared codes and the hub's ``used`` list
(docs/contracts.md, ``GET /api/v1/gates/{gate}/replica``). It is refreshed incrementally with the
hub's cursor, at once when the hub hints that codes were revoked, and its age is reported so an
operator sees a gate that would decide on stale rules.
"""

from __future__ import annotations

import base64
import json
import logging
import sqlite3
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gate.decision import SeriesRule, Usage
from venue.clock import SYSTEM_CLOCK, Clock
from venue.codes import load_public_key
from venue.errors import PayloadError
from venue.messages import parse_time

log = logging.getLogger("venue.gate.replica")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT);
CREATE TABLE IF NOT EXISTS keys (key_id INTEGER PRIMARY KEY, public_key BLOB, status TEXT);
CREATE TABLE IF NOT EXISTS series (id INTEGER PRIMARY KEY, body TEXT);
CREATE TABLE IF NOT EXISTS codes (ref TEXT PRIMARY KEY, status TEXT);
CREATE TABLE IF NOT EXISTS imported (hash TEXT, series INTEGER, PRIMARY KEY (hash, series));
CREATE TABLE IF NOT EXISTS shared (series INTEGER PRIMARY KEY, code TEXT);
CREATE TABLE IF NOT EXISTS used (ref TEXT PRIMARY KEY, entries INTEGER, inside INTEGER,
                                 first_used_at TEXT, first_gate TEXT);
CREATE INDEX IF NOT EXISTS shared_code ON shared (code);
"""


def _int(value: Any) -> int:
    """An integer SQLite can store (64-bit); ``ValueError``/``OverflowError`` otherwise."""
    number = int(value)
    if not -(2**63) <= number < 2**63:
        raise ValueError(f"integer out of range: {value!r}")
    return number


def _time(value: Any) -> datetime | None:
    return None if value in (None, "") else parse_time(value)


def _rule(obj: dict[str, Any]) -> SeriesRule:
    return SeriesRule(
        id=int(obj["id"]),
        name=str(obj.get("name", "")),
        kind=str(obj.get("kind", "ticket")),
        code_mode=str(obj.get("code_mode", "generated")),
        valid_from=_time(obj.get("valid_from")),
        valid_until=_time(obj.get("valid_until")),
        issue_limit=int(obj.get("issue_limit") or 0),
        issued_count=int(obj.get("issued_count") or 0),
        entries_per_code=int(obj.get("entries_per_code", 1)),
        entry_rule=str(obj.get("entry_rule", "single")),
        active=bool(obj.get("active", True)),
    )


class ReplicaStore:
    """SQLite replica; implements :class:`gate.decision.ReplicaView`.

    Keys and series are small and read on every scan, so they are also cached in memory; the long
    lists (codes, imported hashes, used) are read with indexed queries.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._load_cache()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _load_cache(self) -> None:
        with self._lock:
            rows = self._db.execute("SELECT k, v FROM meta").fetchall()
            meta = dict(rows)
            # Loaded once: parsing a key costs as much as verifying a signature.
            self._keys = {
                int(k): (load_public_key(bytes(pk)), str(st))
                for k, pk, st in self._db.execute("SELECT * FROM keys")
            }
            self._series = {
                int(i): _rule(json.loads(body))
                for i, body in self._db.execute("SELECT * FROM series")
            }
        self._salt = bytes.fromhex(meta.get("hash_salt", ""))
        self.cursor: str | None = meta.get("cursor")
        self.hub_time: datetime | None = _time(meta.get("hub_time"))
        self.synced_at: datetime | None = _time(meta.get("synced_at"))

    # --- ReplicaView --------------------------------------------------------------------------

    @property
    def hash_salt(self) -> bytes:
        return self._salt

    def public_key(self, key_id: int) -> tuple[Ed25519PublicKey | bytes, str] | None:
        return self._keys.get(key_id)

    def series(self, series_id: int) -> SeriesRule | None:
        return self._series.get(series_id)

    def code_status(self, ref: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT status FROM codes WHERE ref = ?", (ref,)).fetchone()
        return None if row is None else str(row[0])

    def shared_series(self, code: str) -> int | None:
        with self._lock:
            row = self._db.execute("SELECT series FROM shared WHERE code = ?", (code,)).fetchone()
        return None if row is None else int(row[0])

    def imported_series(self, digest: str) -> int | None:
        with self._lock:
            row = self._db.execute(
                "SELECT series FROM imported WHERE hash = ? LIMIT 1", (digest,)
            ).fetchone()
        return None if row is None else int(row[0])

    def used(self, ref: str) -> Usage | None:
        with self._lock:
            row = self._db.execute(
                "SELECT entries, inside, first_used_at, first_gate FROM used WHERE ref = ?", (ref,)
            ).fetchone()
        if row is None:
            return None
        return Usage(int(row[0]), bool(row[1]), _time(row[2]), row[3])

    def mark_synced(self, when: datetime) -> None:
        """Remember (durably) when the replica last matched the hub, for its age after a restart."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('synced_at', ?)", (when.isoformat(),)
            )
        self.synced_at = when

    @property
    def empty(self) -> bool:
        return self.cursor is None

    # --- applying the hub's answer ------------------------------------------------------------

    def apply(self, body: dict[str, Any]) -> None:
        """Apply one replica answer: replace everything when ``full``, else upsert by key.

        Raises:
            PayloadError: the answer does not follow the contract; nothing is changed then.
        """
        if not isinstance(body, dict):
            raise PayloadError(f"replica answer is not a JSON object: {type(body).__name__}")
        try:
            keys = [
                (
                    _int(k["key_id"]),
                    base64.b64decode(k["public_key"]),
                    str(k.get("status", "active")),
                )
                for k in body.get("keys", [])
            ]
            series = [(_int(s["id"]), json.dumps(s)) for s in body.get("series", [])]
            for _, text in series:
                _rule(json.loads(text))
            codes = [(str(c["ref"]), str(c["status"])) for c in body.get("codes", [])]
            imported = [(str(i["hash"]), _int(i["series"])) for i in body.get("imported", [])]
            shared = [(_int(s["series"]), str(s["code"])) for s in body.get("shared", [])]
            used = [
                (
                    str(u["ref"]),
                    _int(u.get("entries", 1)),
                    int(bool(u.get("inside", False))),
                    u.get("first_used_at"),
                    u.get("first_gate"),
                )
                for u in body.get("used", [])
            ]
            cursor = str(body["cursor"])
            salt = str(body.get("hash_salt", ""))
            bytes.fromhex(salt)
            hub_time = body.get("hub_time")
            _time(hub_time)
        except (KeyError, TypeError, ValueError, OverflowError, AttributeError) as exc:
            # JSON can carry what Python refuses to store: Infinity, NaN, 1e999, a list where
            # an object belongs. Anything but PayloadError would end the refresher's thread.
            raise PayloadError(f"replica answer does not follow the contract: {exc!r}") from None
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                if body.get("full"):
                    for table in ("codes", "imported", "shared", "used"):
                        db.execute(f"DELETE FROM {table}")
                # Keys, series and salt always come in full.
                db.execute("DELETE FROM keys")
                db.execute("DELETE FROM series")
                db.executemany("INSERT INTO keys VALUES (?, ?, ?)", keys)
                db.executemany("INSERT INTO series VALUES (?, ?)", series)
                db.executemany("INSERT OR REPLACE INTO codes VALUES (?, ?)", codes)
                db.executemany("INSERT OR REPLACE INTO imported VALUES (?, ?)", imported)
                db.executemany("INSERT OR REPLACE INTO shared VALUES (?, ?)", shared)
                db.executemany("INSERT OR REPLACE INTO used VALUES (?, ?, ?, ?, ?)", used)
                meta = {"cursor": cursor, "hash_salt": salt, "hub_time": hub_time or ""}
                db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta.items())
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._load_cache()


class ReplicaRefresher:
    """Keeps a :class:`ReplicaStore` fresh from the hub, and tells whether the hub answers.

    It doubles as the gate's probe: while the hub is down it asks every ``probe_s`` and reports the
    first answer through ``on_hub``, so the check provider switches back online by itself.
    """

    def __init__(
        self,
        store: ReplicaStore,
        *,
        hub_url: str,
        gate_id: str,
        token: str | None,
        refresh_s: float = 30.0,
        probe_s: float = 1.0,
        timeout_s: float = 5.0,
        on_hub: Callable[[bool], None] | None = None,
        clock: Clock | None = None,
        http: requests.Session | None = None,
    ) -> None:
        self.store = store
        self.url = f"{hub_url.rstrip('/')}/api/v1/gates/{gate_id}/replica"
        self.refresh_s = refresh_s
        self.probe_s = probe_s
        self.timeout_s = timeout_s
        self.on_hub = on_hub
        self.clock = clock or SYSTEM_CLOCK
        self.http = http or requests.Session()
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"
        self.hub_up = False
        self.failures = 0
        self.refreshes = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def age_s(self) -> float | None:
        """Seconds since the replica last matched the hub (``None``: never synced)."""
        if self.store.synced_at is None:
            return None
        return max(0.0, (self.clock.now() - self.store.synced_at).total_seconds())

    def refresh(self) -> bool:
        """One incremental fetch; returns whether the hub answered with a usable replica."""
        params = {"since": self.store.cursor} if self.store.cursor else {}
        try:
            resp = self.http.get(self.url, params=params, timeout=self.timeout_s)
            if resp.status_code != 200:
                raise requests.RequestException(f"HTTP {resp.status_code}: {resp.text[:200]}")
            self.store.apply(resp.json())
        except (requests.RequestException, ValueError) as exc:
            self.failures += 1
            # Once per outage at warning level; the probe repeats it every probe_s.
            (log.warning if self.hub_up or self.failures == 1 else log.debug)(
                "replica refresh failed: %s", exc
            )
            self._set_hub(False)
            return False
        self.store.mark_synced(self.clock.now())
        self.refreshes += 1
        self._set_hub(True)
        return True

    def _set_hub(self, up: bool) -> None:
        changed = up != self.hub_up
        self.hub_up = up
        if self.on_hub is not None and (changed or up):
            self.on_hub(up)

    def hint(self) -> None:
        """Refresh now (the hub announced revocations, or an operator asked)."""
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="gate-replica", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            ok = self.refresh()
            self._wake.wait(self.refresh_s if ok else self.probe_s)
