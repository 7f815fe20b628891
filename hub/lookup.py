"""Finding the ticket a scanned text names: one locked row with its series' rules.

Plain SQL through :mod:`hub.sql` (the redemption hot path). A generated code's row is read with
its signing key in the same query, then the signature is checked; the slow explanations (unknown
key, unknown series, serial beyond the limit) run only when no row matched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from hub import keys
from hub.decision import Rules, entries_left
from hub.series import SHARED_SERIAL
from hub.sql import sql_for
from venue import codes
from venue.errors import CodeError
from venue.reasons import Reason


@dataclass(frozen=True, slots=True)
class TicketInfo:
    ref: str
    series: int
    serial: int | None
    kind: str
    entries_left: int
    name: str

    def to_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, "series": self.series, "serial": self.serial, "kind": self.kind,
                "entries_left": self.entries_left, "name": self.name}



@dataclass(slots=True)
class Ticket:
    """A locked ticket row and its series' rules, as plain values (no ORM objects)."""

    id: int
    series_id: int
    serial: int
    ref: str
    status: str
    entries_used: int
    inside: bool
    first_used_at: datetime | None
    first_gate: str | None
    last_gate: str | None
    series_name: str
    kind: str
    issue_limit: int
    rules: Rules
    key_status: str | None = None
    key_raw: bytes | None = None

    def info(self) -> TicketInfo:
        return TicketInfo(
            ref=self.ref,
            series=self.series_id,
            serial=None if self.serial == SHARED_SERIAL else self.serial,
            kind=self.kind,
            entries_left=entries_left(self.rules, self.entries_used),
            name=self.series_name,
        )


_TICKET_SQL = (
    "SELECT c.id, c.series_id, c.serial, c.ref, c.status, c.entries_used, c.inside, "
    "c.first_used_at, c.first_gate, c.last_gate, s.name, s.kind, s.issue_limit, s.entry_rule, "
    "s.entries_per_code, s.valid_from, s.valid_until, s.active{key} "
    "FROM codes c JOIN series s ON s.id = c.series_id{join} WHERE {where}"
)
_KEY_COLS = ", k.status, k.public_key"
_KEY_JOIN = " LEFT JOIN signing_keys k ON k.id = :key_id"


def load_ticket(
    conn: Connection, where: str, params: dict[str, Any], *, lock: bool,
    window: tuple[datetime | None, datetime | None] = (None, None), with_key: bool = False,
) -> Ticket | None:
    """One ticket row joined with its series (and a signing key), locked when ``lock``."""
    x = sql_for(conn)
    sql = _TICKET_SQL.format(key=_KEY_COLS if with_key else "",
                             join=_KEY_JOIN if with_key else "", where=where)
    if lock:
        sql += x.for_update
    row = x.run(conn, sql, params).first()
    if row is None:
        return None
    vf = max((w for w in (x.time(row[15]), window[0]) if w is not None), default=None)
    vu = min((w for w in (x.time(row[16]), window[1]) if w is not None), default=None)
    rules = Rules(entry_rule=row[13], entries_per_code=row[14], valid_from=vf, valid_until=vu,
                  active=bool(row[17]),
                  shared_capacity=row[12] if row[2] == SHARED_SERIAL else None)
    return Ticket(
        id=row[0], series_id=row[1], serial=row[2], ref=row[3], status=row[4],
        entries_used=row[5], inside=bool(row[6]), first_used_at=x.time(row[7]),
        first_gate=row[8], last_gate=row[9], series_name=row[10], kind=row[11],
        issue_limit=row[12], rules=rules,
        key_status=row[18] if with_key else None,
        key_raw=bytes(row[19]) if with_key and row[19] is not None else None,
    )


@dataclass(frozen=True, slots=True)
class Miss:
    """Why a scanned text names no ticket."""

    reason: Reason
    detail: str
    series_id: int | None = None


def _salt(conn: Connection) -> bytes:
    """The imported-code salt; it never changes once made, so it is read once per database."""
    key = str(conn.engine.url)
    salt = _SALTS.get(key)
    if salt is None:
        row = sql_for(conn).run(conn, "SELECT value FROM hub_settings WHERE key = :k",
                                {"k": keys.SALT_KEY}).first()
        if row is None:
            return b""
        salt = _SALTS[key] = bytes.fromhex(row[0])
    return salt


_SALTS: dict[str, bytes] = {}


def find_ticket(conn: Connection, text: str, *, allow_serial: bool, lock: bool) -> Ticket | Miss:
    """The ticket a scanned text names, locked when ``lock``, or why there is none."""
    try:
        scanned = codes.classify(text)
    except CodeError as exc:
        return Miss(Reason(exc.reason), str(exc))
    if scanned.generated is not None:
        g = scanned.generated
        t = load_ticket(conn, "c.series_id = :sid AND c.serial = :serial",
                        {"sid": g.series_id, "serial": g.serial, "key_id": g.key_id},
                        lock=lock, window=(g.valid_from, g.valid_until), with_key=True)
        if t is None:
            return _explain_missing(conn, g)
        if t.key_raw is None:
            return Miss(Reason.INVALID, f"signed by unknown key {g.key_id}")
        try:
            codes.verify_signature(g, keys.public_key(t.key_raw))
        except CodeError as exc:
            return Miss(Reason.INVALID, str(exc))
        if t.key_status != keys.ACTIVE:
            return Miss(Reason.REVOKED, f"signed by retired key {g.key_id}")
    elif scanned.short is not None:
        if not allow_serial:
            return Miss(Reason.INVALID, "short serials are not accepted from this device")
        t = load_ticket(conn, "c.ref = :ref", {"ref": scanned.short.ref}, lock=lock)
    else:
        x = sql_for(conn)
        shared = x.run(conn, "SELECT id FROM series WHERE shared_code = :t",
                       {"t": scanned.text}).first()
        if shared is not None:
            t = load_ticket(conn, "c.series_id = :sid AND c.serial = :serial",
                            {"sid": shared[0], "serial": SHARED_SERIAL}, lock=lock)
        else:
            h = codes.imported_hash(_salt(conn), scanned.text)
            t = load_ticket(conn, "c.code_hash = :h", {"h": h}, lock=lock)
    if t is None:
        return Miss(Reason.INVALID, "no such ticket")
    if t.serial >= t.issue_limit:
        return Miss(Reason.INVALID, "serial is beyond the series' issue limit", t.series_id)
    return t


def _explain_missing(conn: Connection, g: codes.GeneratedCode) -> Miss:
    """Why a well-formed generated code has no ticket row (rare: take the time to say why)."""
    x = sql_for(conn)
    key = x.run(conn, "SELECT status, public_key FROM signing_keys WHERE id = :k",
                {"k": g.key_id}).first()
    if key is None:
        return Miss(Reason.INVALID, f"signed by unknown key {g.key_id}")
    try:
        codes.verify_signature(g, keys.public_key(bytes(key[1])))
    except CodeError as exc:
        return Miss(Reason.INVALID, str(exc))
    series = x.run(conn, "SELECT issue_limit FROM series WHERE id = :s",
                   {"s": g.series_id}).first()
    if series is None:
        return Miss(Reason.UNKNOWN_SERIES, f"no series {g.series_id}")
    if g.serial >= series[0]:
        return Miss(Reason.INVALID, "serial is beyond the series' issue limit", g.series_id)
    return Miss(Reason.INVALID, "no such ticket", g.series_id)
