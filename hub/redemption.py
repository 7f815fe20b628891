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

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub import keys
from hub.db import Database
from hub.decision import Decision, Direction, Rules, TicketState, decide, entries_left
from hub.models import Code, CodeEvent, Redemption, Series, SigningKey
from hub.series import SHARED_SERIAL
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


@dataclass(frozen=True, slots=True)
class _Found:
    code: Code | None
    series: Series | None
    reason: Reason = Reason.OK
    detail: str = ""
    window: tuple[datetime | None, datetime | None] = (None, None)


def _reject(reason: Reason, detail: str, series: Series | None = None) -> _Found:
    return _Found(None, series, reason, detail)


def resolve(session: Session, req: RedemptionRequest, *, lock: bool) -> _Found:
    """Find the ticket row a scanned text names (locked when ``lock``), or why there is none."""
    try:
        scanned = codes.classify(req.code)
    except CodeError as exc:
        return _reject(Reason(exc.reason), str(exc))
    window: tuple[datetime | None, datetime | None] = (None, None)
    stmt = select(Code, Series).join(Series, Series.id == Code.series_id)
    if scanned.generated is not None:
        g = scanned.generated
        key = session.get(SigningKey, g.key_id)
        if key is None:
            return _reject(Reason.INVALID, f"signed by unknown key {g.key_id}")
        try:
            codes.verify_signature(g, keys.public_key(key.public_key))
        except CodeError as exc:
            return _reject(Reason.INVALID, str(exc))
        if key.status != keys.ACTIVE:
            return _reject(Reason.REVOKED, f"signed by retired key {g.key_id}")
        stmt = stmt.where(Code.series_id == g.series_id, Code.serial == g.serial)
        window = (g.valid_from, g.valid_until)
    elif scanned.short is not None:
        if not req.allow_serial:
            return _reject(Reason.INVALID, "short serials are not accepted from this device")
        stmt = stmt.where(Code.ref == scanned.short.ref)
    else:
        text = scanned.text
        shared_id = session.scalar(select(Series.id).where(Series.shared_code == text).limit(1))
        if shared_id is not None:
            stmt = stmt.where(Code.series_id == shared_id, Code.serial == SHARED_SERIAL)
        else:
            stmt = stmt.where(Code.code_hash == codes.imported_hash(keys.hash_salt(session), text))
    if lock:
        stmt = stmt.with_for_update(of=Code)
    row = session.execute(stmt.limit(1)).first()
    if row is None:
        if scanned.generated is not None:
            series = session.get(Series, scanned.generated.series_id)
            if series is None:
                return _reject(Reason.UNKNOWN_SERIES, f"no series {scanned.generated.series_id}")
            if scanned.generated.serial >= series.issue_limit:
                return _reject(Reason.INVALID, "serial is beyond the series' issue limit", series)
        return _reject(Reason.INVALID, "no such ticket")
    code, series = row
    if code.serial >= series.issue_limit:
        return _reject(Reason.INVALID, "serial is beyond the series' issue limit", series)
    return _Found(code, series, window=window)


def rules_for(series: Series, code: Code, window: tuple[datetime | None, datetime | None]) -> Rules:
    """The series' rules, narrowed by the validity signed into the code."""
    vf = max((w for w in (series.valid_from, window[0]) if w is not None), default=None)
    vu = min((w for w in (series.valid_until, window[1]) if w is not None), default=None)
    return Rules(
        entry_rule=series.entry_rule,
        entries_per_code=series.entries_per_code,
        valid_from=vf,
        valid_until=vu,
        active=series.active,
        shared_capacity=series.issue_limit if code.serial == SHARED_SERIAL else None,
    )


def _ticket(series: Series, code: Code, rules: Rules) -> TicketInfo:
    return TicketInfo(
        ref=code.ref,
        series=series.id,
        serial=None if code.serial == SHARED_SERIAL else code.serial,
        kind=series.kind,
        entries_left=entries_left(rules, code.entries_used),
        name=series.name,
    )


def _stored(session: Session, nonce: str) -> RedemptionAnswer | None:
    row = session.execute(
        select(Redemption.id, Redemption.answer).where(Redemption.nonce == nonce)
    ).first()
    return None if row is None else RedemptionAnswer.from_dict(row.answer, row.id)


def redeem(session: Session, req: RedemptionRequest, *, clock: Clock) -> RedemptionAnswer:
    """Decide and record one scan inside the caller's write transaction.

    Returns the stored first answer when the nonce was seen before. A ``check`` decides the same
    way but changes nothing on the ticket. Validity is judged on the hub's clock; the scan time
    is recorded and becomes the first-use time.
    """
    known = _stored(session, req.nonce)
    if known is not None:
        return known
    now = clock.now()
    scanned_at = min(req.scanned_at or now, now)
    found = resolve(session, req, lock=req.mode == "redeem")
    if found.code is not None and found.series is not None:
        known = _stored(session, req.nonce)  # a twin of this request may have held the lock
        if known is not None:
            return known
        code, series = found.code, found.series
        rules = rules_for(series, code, found.window)
        state = TicketState(code.status, code.entries_used, code.inside)
        decision = decide(rules, state, req.direction, now)
        was_inside = code.inside
        if req.mode == "redeem" and decision.admitted:
            _apply(session, code, decision, req.gate, scanned_at, now)
        answer = RedemptionAnswer(
            result=decision.result,
            reason=decision.reason,
            nonce=req.nonce,
            ticket=_ticket(series, code, rules),
            first_used_at=code.first_used_at,
            first_gate=code.first_gate,
            detail=decision.detail,
        )
        counted = decision.counted and req.mode == "redeem"
        return _record(session, req, answer, code, scanned_at, now, counted, was_inside)
    answer = RedemptionAnswer(Result.REJECT, found.reason, req.nonce, detail=found.detail)
    return _record(session, req, answer, None, scanned_at, now, False, False,
                   series_id=None if found.series is None else found.series.id)


def _apply(
    session: Session, code: Code, decision: Decision, gate: str, scanned_at: datetime,
    now: datetime,
) -> None:
    if decision.counted:
        if code.entries_used == 0 and code.serial != SHARED_SERIAL:
            code.first_used_at = scanned_at
            code.first_gate = gate
            session.add(CodeEvent(code_id=code.id, status="redeemed", at=now, detail=gate))
        code.entries_used += 1
    code.inside = decision.inside
    code.last_used_at = scanned_at
    code.last_gate = gate
    code.changed_at = now


def _record(
    session: Session,
    req: RedemptionRequest,
    answer: RedemptionAnswer,
    code: Code | None,
    scanned_at: datetime,
    now: datetime,
    counted: bool,
    was_inside: bool,
    *,
    offline: bool = False,
    series_id: int | None = None,
) -> RedemptionAnswer:
    row = Redemption(
        nonce=req.nonce,
        code_id=None if code is None else code.id,
        ref=None if code is None else code.ref,
        series_id=series_id if code is None else code.series_id,
        gate=req.gate,
        device=req.device,
        direction=req.direction,
        mode=req.mode,
        offline=offline,
        result=str(answer.result),
        reason=str(answer.reason),
        counted=counted,
        was_inside=was_inside,
        scanned_at=scanned_at,
        received_at=now,
        annulled_at=None,
        answer=answer.to_dict(),
    )
    session.add(row)
    session.flush()
    return replace(answer, redemption_id=row.id)


def redeem_once(db: Database, req: RedemptionRequest, *, clock: Clock) -> RedemptionAnswer:
    """:func:`redeem` in its own write transaction, retried once if a twin nonce won the race."""
    try:
        with db.write() as session:
            return redeem(session, req, clock=clock)
    except IntegrityError:
        with db.read() as session:
            known = _stored(session, req.nonce)
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
