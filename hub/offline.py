"""Applying what gates decided while the hub was away (``gate.scan`` / ``gate.passage`` events).

An offline admission counts once (by its nonce). When the hub's ledger says the ticket was
already used (another gate admitted it, online or offline), the admission is still recorded, as
it happened, but it is also stored as a :class:`~hub.models.Conflict` and returned as an alert
for operators: the hub cannot un-admit a person, but it can say where to look.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.decision import Direction, TicketState, decide
from hub.models import Code, Conflict, Redemption, Series
from hub.redemption import (
    AnnulError,
    RedemptionAnswer,
    RedemptionRequest,
    _apply,
    _ticket,
    annul,
    rules_for,
)
from hub.redemption import _record as record
from venue.clock import Clock
from venue.reasons import Reason, Result


@dataclass(frozen=True, slots=True)
class OfflineScan:
    """The part of a ``gate.scan`` event the hub applies."""

    nonce: str
    ref: str | None
    gate: str
    direction: Direction
    scanned_at: datetime
    event_id: str | None = None


def apply_offline_admission(
    session: Session, scan: OfflineScan, *, clock: Clock
) -> dict[str, Any] | None:
    """Record one offline admission once; return a ``hub.alert`` payload for a conflict."""
    if session.scalar(select(Redemption.id).where(Redemption.nonce == scan.nonce)) is not None:
        return None
    now = clock.now()
    req = RedemptionRequest(code="", gate=scan.gate, direction=scan.direction, nonce=scan.nonce,
                            scanned_at=scan.scanned_at, device=scan.gate)
    row = None
    if scan.ref:
        row = session.execute(
            select(Code, Series).join(Series, Series.id == Code.series_id)
            .where(Code.ref == scan.ref).with_for_update(of=Code)
        ).first()
    if row is None:
        answer = RedemptionAnswer(Result.ADMIT, Reason.INVALID, scan.nonce, offline=True,
                                  detail=f"admitted offline; the hub knows no ticket {scan.ref}")
        record(session, req, answer, None, scan.scanned_at, now, False, False, offline=True)
        return None
    code, series = row
    rules = rules_for(series, code, (None, None))
    decision = decide(rules, TicketState(code.status, code.entries_used, code.inside),
                      scan.direction, scan.scanned_at)
    was_inside = code.inside
    first_gate = code.first_gate
    if decision.admitted:
        _apply(session, code, decision, scan.gate, scan.scanned_at, now)
    answer = RedemptionAnswer(
        result=Result.ADMIT,
        reason=decision.reason,
        nonce=scan.nonce,
        ticket=_ticket(series, code, rules),
        first_used_at=code.first_used_at,
        first_gate=code.first_gate,
        offline=True,
        detail="" if decision.admitted else f"admitted offline, hub says {decision.reason}",
    )
    record(session, req, answer, code, scan.scanned_at, now, decision.counted and
           decision.admitted, was_inside, offline=True)
    if decision.reason != Reason.ALREADY_USED:
        return None
    gates = list(dict.fromkeys(g for g in (first_gate, code.last_gate, scan.gate) if g))
    session.add(Conflict(ref=code.ref, nonce=scan.nonce, gate=scan.gate, first_gate=first_gate,
                         gates=gates, scanned_at=scan.scanned_at, detected_at=now,
                         event_id=scan.event_id))
    return {"kind": "offline_conflict", "ref": code.ref, "gates": gates, "nonce": scan.nonce,
            "first_used_at": answer.to_dict()["first_used_at"]}


def apply_offline_annulment(session: Session, nonce: str, *, clock: Clock) -> bool:
    """Undo an offline admission the turnstile did not follow; False if it is not known."""
    try:
        return annul(session, nonce, clock=clock, offline=True)
    except AnnulError:
        return False
