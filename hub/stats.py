"""History per code and statistics per series, gate and hour, for validators and operators."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.models import Code, CodeEvent, Redemption, Series
from venue.messages import rfc3339

HISTORY_LIMIT = 1000


def _t(when: datetime | None) -> str | None:
    return None if when is None else rfc3339(when)


def code_history(session: Session, code: Code) -> dict[str, Any]:
    """A code's status, its status history and its last attempts (newest last)."""
    history: list[dict[str, Any]] = []
    if code.issued_at is not None:
        history.append({"status": "issued", "at": _t(code.issued_at), "detail": code.customer_id})
    if code.first_used_at is not None:
        history.append({"status": "redeemed", "at": _t(code.first_used_at),
                        "detail": code.first_gate})
    for ev in session.scalars(
        select(CodeEvent).where(CodeEvent.code_id == code.id).order_by(CodeEvent.id)
    ):
        if ev.status == "issued" and ev.detail == "shared code":
            continue
        history.append({"status": ev.status, "at": _t(ev.at), "detail": ev.detail})
    attempts = [
        {
            "nonce": r.nonce, "gate": r.gate, "device": r.device, "direction": r.direction,
            "mode": r.mode, "offline": r.offline, "result": r.result, "reason": r.reason,
            "scanned_at": _t(r.scanned_at), "received_at": _t(r.received_at),
            "annulled_at": _t(r.annulled_at),
        }
        for r in session.scalars(
            select(Redemption).where(Redemption.code_id == code.id)
            .order_by(Redemption.id.desc()).limit(HISTORY_LIMIT)
        )
    ][::-1]
    return {"history": history, "attempts": attempts}


def series_stats(session: Session, series: Series) -> dict[str, Any]:
    """Counts for one series: issued, used, and attempts by result, reason, gate and hour."""
    used = session.scalar(
        select(func.count()).select_from(Code).where(
            Code.series_id == series.id, Code.entries_used > 0
        )
    )
    rows = session.execute(
        select(Redemption.gate, Redemption.result, Redemption.reason, Redemption.scanned_at,
               Redemption.annulled_at, Redemption.mode)
        .where(Redemption.series_id == series.id)
    ).all()
    reasons: Counter[str] = Counter()
    by_gate: dict[str, Counter[str]] = defaultdict(Counter)
    by_hour: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        if r.mode != "redeem":
            reasons["check"] += 1
            continue
        outcome = "annulled" if r.annulled_at is not None else r.result
        reasons[r.reason] += 1
        by_gate[r.gate][outcome] += 1
        hour = r.scanned_at.replace(minute=0, second=0, microsecond=0)
        by_hour[rfc3339(hour)][outcome] += 1
    return {
        "series": series.id,
        "issued": series.issued_count,
        "imported": series.imported_count,
        "used_codes": int(used or 0),
        "attempts": sum(reasons.values()),
        "reasons": dict(reasons),
        "by_gate": {g: dict(c) for g, c in sorted(by_gate.items())},
        "by_hour": [{"hour": h, **dict(c)} for h, c in sorted(by_hour.items())],
    }
