"""Redemption: the one service function every online scan goes through, after pretix' check-in.

:func:`redeem` runs inside the caller's write transaction. It takes the ticket row with
``SELECT ... FOR UPDATE`` (PostgreSQL) or under SQLite's single writer (``BEGIN IMMEDIATE``), so
two gates can never both admit one single-entry ticket. Every attempt is stored with its answer,
rejections included; a repeated nonce returns the first answer unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub import keys
from hub.db import Database
from hub.decision import Decision, Direction, Rules, TicketState, decide, entries_left
from hub.models import Code, CodeEvent, Redemption
from hub.series import SHARED_SERIAL
from hub.sql import sql_for
from venue import codes
from venue.clock import Clock
from venue.errors import CodeError, VenueError
from venue.messages import rfc3339
from venue.reasons import Reason, Result

Mode = Literal["redeem", "check"]
ANNUL_WINDOW = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class RedemptionRequest:
    """One scan to decide. ``device`` comes from the caller's token, not from the body."""

    code: str
    gate: str
    direction: Direction
    nonce: str
    scanned_at: datetime | None = None
    mode: Mode = "redeem"
    device: str = ""
    allow_serial: bool = False


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


@dataclass(frozen=True, slots=True)
class RedemptionAnswer:
    """What the gate is told; stored with the attempt and returned again for its nonce."""

    result: Result
    reason: Reason
    nonce: str
    ticket: TicketInfo | None = None
    first_used_at: datetime | None = None
    first_gate: str | None = None
    redemption_id: int | None = None
    offline: bool = False
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "result": str(self.result),
            "reason": str(self.reason),
            "offline": self.offline,
            "ticket": None if self.ticket is None else self.ticket.to_dict(),
            "first_used_at": None if self.first_used_at is None else rfc3339(self.first_used_at),
            "first_gate": self.first_gate,
            "nonce": self.nonce,
            "redemption_id": self.redemption_id,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], redemption_id: int) -> RedemptionAnswer:
        t = data.get("ticket")
        first = data.get("first_used_at")
        return cls(
            result=Result(data["result"]),
            reason=Reason(data["reason"]),
            nonce=data["nonce"],
            ticket=None if t is None else TicketInfo(**t),
            first_used_at=None if first is None else datetime.fromisoformat(first),
            first_gate=data.get("first_gate"),
            redemption_id=redemption_id,
            offline=bool(data.get("offline", False)),
            detail=data.get("detail", ""),
        )


class AnnulError(VenueError, ValueError):
    """An annulment that is not allowed (not admitted, too late); ``status`` is the HTTP code."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


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
class _Miss:
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


def find_ticket(conn: Connection, req: RedemptionRequest, *, lock: bool) -> Ticket | _Miss:
    """The ticket a scanned text names, locked when ``lock``, or why there is none."""
    try:
        scanned = codes.classify(req.code)
    except CodeError as exc:
        return _Miss(Reason(exc.reason), str(exc))
    if scanned.generated is not None:
        g = scanned.generated
        t = load_ticket(conn, "c.series_id = :sid AND c.serial = :serial",
                        {"sid": g.series_id, "serial": g.serial, "key_id": g.key_id},
                        lock=lock, window=(g.valid_from, g.valid_until), with_key=True)
        if t is None:
            return _explain_missing(conn, g)
        if t.key_raw is None:
            return _Miss(Reason.INVALID, f"signed by unknown key {g.key_id}")
        try:
            codes.verify_signature(g, keys.public_key(t.key_raw))
        except CodeError as exc:
            return _Miss(Reason.INVALID, str(exc))
        if t.key_status != keys.ACTIVE:
            return _Miss(Reason.REVOKED, f"signed by retired key {g.key_id}")
    elif scanned.short is not None:
        if not req.allow_serial:
            return _Miss(Reason.INVALID, "short serials are not accepted from this device")
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
        return _Miss(Reason.INVALID, "no such ticket")
    if t.serial >= t.issue_limit:
        return _Miss(Reason.INVALID, "serial is beyond the series' issue limit", t.series_id)
    return t


def _explain_missing(conn: Connection, g: codes.GeneratedCode) -> _Miss:
    """Why a well-formed generated code has no ticket row (rare: take the time to say why)."""
    x = sql_for(conn)
    key = x.run(conn, "SELECT status, public_key FROM signing_keys WHERE id = :k",
                {"k": g.key_id}).first()
    if key is None:
        return _Miss(Reason.INVALID, f"signed by unknown key {g.key_id}")
    try:
        codes.verify_signature(g, keys.public_key(bytes(key[1])))
    except CodeError as exc:
        return _Miss(Reason.INVALID, str(exc))
    series = x.run(conn, "SELECT issue_limit FROM series WHERE id = :s",
                   {"s": g.series_id}).first()
    if series is None:
        return _Miss(Reason.UNKNOWN_SERIES, f"no series {g.series_id}")
    if g.serial >= series[0]:
        return _Miss(Reason.INVALID, "serial is beyond the series' issue limit", g.series_id)
    return _Miss(Reason.INVALID, "no such ticket", g.series_id)


def _stored(conn: Connection, nonce: str) -> RedemptionAnswer | None:
    x = sql_for(conn)
    row = x.run(conn, "SELECT id, answer FROM redemptions WHERE nonce = :n", {"n": nonce}).first()
    return None if row is None else RedemptionAnswer.from_dict(x.json_out(row[1]), row[0])


def redeem(session: Session, req: RedemptionRequest, *, clock: Clock) -> RedemptionAnswer:
    """Decide and record one scan inside the caller's write transaction.

    Returns the stored first answer when the nonce was seen before. A ``check`` decides the same
    way but changes nothing on the ticket. Validity is judged on the hub's clock; the scan time
    is recorded and becomes the first-use time.

    The attempt is inserted before the ticket is changed, with ``ON CONFLICT (nonce) DO
    NOTHING``: when the nonce is already stored (a retry, or a twin that held the lock first) the
    insert adds nothing, the ticket is left alone and the first answer is returned. This costs no
    extra query on the common path, where every nonce is new.
    """
    conn = session.connection()
    now = clock.now()
    scanned_at = min(req.scanned_at or now, now)
    found = find_ticket(conn, req, lock=req.mode == "redeem")
    if isinstance(found, _Miss):
        answer = RedemptionAnswer(Result.REJECT, found.reason, req.nonce, detail=found.detail)
        return record(conn, req, answer, None, scanned_at, now,
                      series_id=found.series_id) or _first(conn, req.nonce)
    t = found
    decision = decide(t.rules, TicketState(t.status, t.entries_used, t.inside), req.direction,
                      now)
    was_inside = t.inside
    apply = req.mode == "redeem" and decision.admitted
    first_used_at: datetime | None
    first_gate: str | None
    if apply and decision.counted and t.entries_used == 0 and t.serial != SHARED_SERIAL:
        first_used_at, first_gate = scanned_at, req.gate
    else:
        first_used_at, first_gate = t.first_used_at, t.first_gate
    answer = RedemptionAnswer(
        result=decision.result, reason=decision.reason, nonce=req.nonce,
        ticket=replace(t.info(), entries_left=entries_left(
            t.rules, t.entries_used + (1 if apply and decision.counted else 0))),
        first_used_at=first_used_at, first_gate=first_gate, detail=decision.detail,
    )
    stored = record(conn, req, answer, t, scanned_at, now, counted=apply and decision.counted,
                    was_inside=was_inside)
    if stored is None:
        return _first(conn, req.nonce)
    if apply:
        apply_decision(conn, t, decision, req.gate, scanned_at, now)
    return stored


def _first(conn: Connection, nonce: str) -> RedemptionAnswer:
    known = _stored(conn, nonce)
    if known is None:  # pragma: no cover - the conflicting row is committed or we would wait
        raise RuntimeError(f"nonce {nonce} conflicts but is not stored")
    return known


def apply_decision(
    conn: Connection, t: Ticket, decision: Decision, gate: str, scanned_at: datetime,
    now: datetime,
) -> None:
    """Write an admission onto the (locked) ticket row; ``t`` is updated to match.

    The first use is part of the code's history through its redemption row (no extra insert).
    """
    x = sql_for(conn)
    if decision.counted:
        if t.entries_used == 0 and t.serial != SHARED_SERIAL:
            t.first_used_at, t.first_gate = scanned_at, gate
        t.entries_used += 1
    t.inside = decision.inside
    t.last_gate = gate
    x.run(conn, "UPDATE codes SET entries_used = :e, inside = :i, first_used_at = :f, "
                "first_gate = :fg, last_used_at = :l, last_gate = :g, changed_at = :now "
                "WHERE id = :id",
          {"e": t.entries_used, "i": t.inside, "f": x.t(t.first_used_at), "fg": t.first_gate,
           "l": x.t(scanned_at), "g": gate, "now": x.t(now), "id": t.id})


def record(
    conn: Connection,
    req: RedemptionRequest,
    answer: RedemptionAnswer,
    t: Ticket | None,
    scanned_at: datetime,
    now: datetime,
    *,
    counted: bool = False,
    was_inside: bool = False,
    offline: bool = False,
    series_id: int | None = None,
) -> RedemptionAnswer | None:
    """Store the attempt with its answer (the answer a repeated nonce gets back).

    Returns ``None`` when the nonce was already stored (nothing is written then).
    """
    x = sql_for(conn)
    row = x.run(
        conn,
        "INSERT INTO redemptions (nonce, code_id, ref, series_id, gate, device, direction, mode, "
        "offline, result, reason, counted, was_inside, scanned_at, received_at, annulled_at, "
        "answer) VALUES (:nonce, :code_id, :ref, :series_id, :gate, :device, :direction, :mode, "
        ":offline, :result, :reason, :counted, :was_inside, :scanned_at, :received_at, NULL, "
        ":answer) ON CONFLICT (nonce) DO NOTHING RETURNING id",
        {"nonce": req.nonce, "code_id": None if t is None else t.id,
         "ref": None if t is None else t.ref,
         "series_id": series_id if t is None else t.series_id, "gate": req.gate,
         "device": req.device, "direction": req.direction, "mode": req.mode,
         "offline": offline, "result": str(answer.result), "reason": str(answer.reason),
         "counted": counted, "was_inside": was_inside, "scanned_at": x.t(scanned_at),
         "received_at": x.t(now), "answer": x.json_in(answer.to_dict())},
    ).first()
    return None if row is None else replace(answer, redemption_id=row[0])


def redeem_once(db: Database, req: RedemptionRequest, *, clock: Clock) -> RedemptionAnswer:
    """:func:`redeem` in its own write transaction, retried once if a twin nonce won the race."""
    try:
        with db.write() as session:
            return redeem(session, req, clock=clock)
    except IntegrityError:
        with db.read() as session:
            known = _stored(session.connection(), req.nonce)
        if known is None:
            raise
        return known


def annul(
    session: Session, nonce: str, *, clock: Clock, window: timedelta = ANNUL_WINDOW,
    gate: str | None = None, offline: bool = False,
) -> bool:
    """Undo an admission whose holder did not pass (the turnstile did not turn).

    Raises:
        AnnulError: unknown nonce (404), not an admission, from another gate, or too late (409).
    """
    red = session.scalar(select(Redemption).where(Redemption.nonce == nonce))
    if red is None:
        raise AnnulError(f"no redemption with nonce {nonce}", 404)
    if red.annulled_at is not None:
        return True
    if red.result != Result.ADMIT or red.mode != "redeem" or red.code_id is None:
        raise AnnulError("only an admission can be annulled")
    if gate is not None and red.gate != gate:
        raise AnnulError(f"admission was made at gate {red.gate}, not {gate}", 403)
    now = clock.now()
    if not offline and now - red.received_at > window:
        raise AnnulError(f"annul window of {int(window.total_seconds())} s has passed")
    code = session.scalar(select(Code).where(Code.id == red.code_id).with_for_update())
    assert code is not None
    if red.counted:
        code.entries_used = max(0, code.entries_used - 1)
        if code.entries_used == 0:
            code.first_used_at = None
            code.first_gate = None
    code.inside = red.was_inside
    code.changed_at = now
    red.annulled_at = now
    session.add(CodeEvent(code_id=code.id, status="entry_annulled", at=now, detail=nonce[:200]))
    return True
