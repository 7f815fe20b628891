"""Applying what gates decided while the hub was away (``gate.scan`` / ``gate.passage`` events).

An offline admission counts once (by its nonce). When the hub's ledger says the ticket was
already used (another gate admitted it, online or offline), the admission is still recorded, as
it happened, but it is also stored as a :class:`~hub.models.Conflict` and returned as an alert
for operators: the hub cannot un-admit a person, but it can say where to look.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.decision import Direction, TicketState, decide
from hub.lookup import load_ticket
from hub.models import Conflict
from hub.redemption import (
    AnnulError,
    RedemptionAnswer,
    RedemptionRequest,
    annul,
    apply_decision,
    record,
)
from hub.sql import sql_for
from venue.clock import Clock
from venue.messages import rfc3339
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
    conn = session.connection()
    x = sql_for(conn)
    now = clock.now()
    # The hub's clock is the judge, as in redeem(): a gate whose clock runs ahead must not put a
    # ticket's first use (or the ledger's scan time) in the hub's future.
    scan = replace(scan, scanned_at=min(scan.scanned_at, now))
    req = RedemptionRequest(code="", gate=scan.gate, direction=scan.direction, nonce=scan.nonce,
                            scanned_at=scan.scanned_at, device=scan.gate)
    t = load_ticket(conn, "c.ref = :ref", {"ref": scan.ref}, lock=True) if scan.ref else None
    # Checked under the ticket's lock: another hub replica applying the same upload has
    # committed by now, or is still waiting behind us.
    prior = x.run(conn, "SELECT result, offline FROM redemptions WHERE nonce = :n",
                  {"n": scan.nonce}).first()
    if prior is not None:
        return _admitted_over_reject(session, t, scan, prior, now)
    if t is None:
        answer = RedemptionAnswer(Result.ADMIT, Reason.INVALID, scan.nonce, offline=True,
                                  detail=f"admitted offline; the hub knows no ticket {scan.ref}")
        record(conn, req, answer, None, scan.scanned_at, now, offline=True)
        return None
    decision = decide(t.rules, TicketState(t.status, t.entries_used, t.inside), scan.direction,
                      scan.scanned_at)
    was_inside, first_gate, last_gate = t.inside, t.first_gate, t.last_gate
    if decision.admitted:
        apply_decision(conn, t, decision, scan.gate, scan.scanned_at, now)
    answer = RedemptionAnswer(
        result=Result.ADMIT,
        reason=decision.reason,
        nonce=scan.nonce,
        ticket=t.info(),
        first_used_at=t.first_used_at,
        first_gate=t.first_gate,
        offline=True,
        detail="" if decision.admitted else f"admitted offline, hub says {decision.reason}",
    )
    record(conn, req, answer, t, scan.scanned_at, now, offline=True,
           counted=decision.counted and decision.admitted, was_inside=was_inside)
    if decision.reason != Reason.ALREADY_USED:
        return None
    gates = list(dict.fromkeys(g for g in (first_gate, last_gate, scan.gate) if g))
    session.add(Conflict(ref=t.ref, nonce=scan.nonce, gate=scan.gate, first_gate=first_gate,
                         gates=gates, scanned_at=scan.scanned_at, detected_at=now,
                         event_id=scan.event_id))
    return {"kind": "offline_conflict", "ref": t.ref, "gates": gates, "nonce": scan.nonce,
            "first_used_at": answer.to_dict()["first_used_at"]}


def _admitted_over_reject(
    session: Session, t: Any, scan: OfflineScan, prior: Any, now: datetime
) -> dict[str, Any] | None:
    """The hub already answered this nonce. When it answered *reject* online but too late (the
    gate had given up waiting and admitted offline), someone walked in on a refused code: the
    ledger keeps the hub's answer, and operators are told once."""
    result, offline = prior[0], bool(prior[1])
    if result != Result.REJECT.value or offline or t is None:
        return None
    if session.scalar(select(Conflict.id).where(Conflict.nonce == scan.nonce)) is not None:
        return None
    gates = list(dict.fromkeys(g for g in (t.first_gate, scan.gate) if g))
    session.add(Conflict(ref=t.ref, nonce=scan.nonce, gate=scan.gate, first_gate=t.first_gate,
                         gates=gates, scanned_at=scan.scanned_at, detected_at=now,
                         event_id=scan.event_id))
    return {"kind": "offline_over_reject", "ref": t.ref, "gates": gates, "nonce": scan.nonce,
            "first_used_at": rfc3339(t.first_used_at) if t.first_used_at else None}


def apply_offline_annulment(session: Session, nonce: str, *, clock: Clock) -> bool:
    """Undo an offline admission the turnstile did not follow; False if it is not known."""
    try:
        return annul(session, nonce, clock=clock, offline=True)
    except AnnulError:
        return False
