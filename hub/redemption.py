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

from hub.db import Database
from hub.decision import Decision, Direction, TicketState, decide, entries_left
from hub.lookup import Miss, Ticket, TicketInfo, find_ticket
from hub.models import Code, CodeEvent, Redemption
from hub.outlets.holder import holder_hint
from hub.series import SHARED_SERIAL
from hub.sql import sql_for
from venue.clock import Clock
from venue.errors import VenueError
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
            **({"check_holder": self.extra["check_holder"]} if "check_holder" in self.extra
               else {}),
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
            extra={"check_holder": data["check_holder"]} if "check_holder" in data else {},
        )


class AnnulError(VenueError, ValueError):
    """An annulment that is not allowed (not admitted, too late); ``status`` is the HTTP code."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


def _stored(conn: Connection, nonce: str) -> RedemptionAnswer | None:
    x = sql_for(conn)
    row = x.run(conn, "SELECT id, answer FROM redemptions WHERE nonce = :n", {"n": nonce}).first()
    return None if row is None else RedemptionAnswer.from_dict(x.json_out(row[1]), row[0])


def redeem(
    session: Session | Connection, req: RedemptionRequest, *, clock: Clock
) -> RedemptionAnswer:
    """Decide and record one scan inside the caller's write transaction.

    Returns the stored first answer when the nonce was seen before. A ``check`` decides the same
    way but changes nothing on the ticket. Validity is judged on the hub's clock; the scan time
    is recorded and becomes the first-use time.

    The attempt is inserted before the ticket is changed, with ``ON CONFLICT (nonce) DO
    NOTHING``: when the nonce is already stored (a retry, or a twin that held the lock first) the
    insert adds nothing, the ticket is left alone and the first answer is returned. This costs no
    extra query on the common path, where every nonce is new.
    """
    conn = session if isinstance(session, Connection) else session.connection()
    now = clock.now()
    scanned_at = min(req.scanned_at or now, now)
    found = find_ticket(conn, req.code, allow_serial=req.allow_serial,
                        lock=req.mode == "redeem")
    if isinstance(found, Miss):
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
    if decision.admitted:  # a phone-bound ticket: the gate may ask for the phone's last digits
        hint = holder_hint(conn, t.id, t.series_id, clock.monotonic())
        if hint is not None:
            answer = replace(answer, extra={"check_holder": hint})
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
        with db.write_connection() as conn:
            return redeem(conn, req, clock=clock)
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
