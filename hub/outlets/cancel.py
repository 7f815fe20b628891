"""Cancelling an outlet's sale before it is invoiced: codes revoked, quota given back.

The sale row stays as it was (sales are never changed); a ``outlet_sale_cancellations`` row,
unique per sale, marks it, so cancelling twice is one cancellation and a cancelled sale is never an
open item. The outlet's row is locked as a period close locks it, so a cancel and a close of one
outlet run one after the other: a sale ends either invoiced or cancelled, never both. The sale's
codes are locked before they are checked, so a gate cannot admit one while it is being revoked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub import issuing
from hub.models import Code
from hub.outlets.errors import refusal
from hub.outlets.models import (
    OutletAssignment,
    OutletInvoiceItem,
    OutletSale,
    OutletSaleCancellation,
)
from hub.outlets.sales import get_outlet


class CancelReason(StrEnum):
    OK = "ok"
    ALREADY_INVOICED = "already_invoiced"
    TICKETS_USED = "tickets_used"
    TICKETS_NOT_LIVE = "tickets_not_live"
    """A code of the sale was revoked, annulled or transferred since."""


@dataclass(frozen=True, slots=True)
class CodeFacts:
    ref: str
    status: str
    entries_used: int


@dataclass(frozen=True, slots=True)
class CancelDecision:
    allowed: bool
    reason: CancelReason
    message: str = ""
    refs: tuple[str, ...] = ()


def decide_cancel(*, invoiced: bool, codes: list[CodeFacts]) -> CancelDecision:
    """Whether a sale may be cancelled (pure): not invoiced, every code live and unused."""
    if invoiced:
        return CancelDecision(False, CancelReason.ALREADY_INVOICED,
                              "the sale is on an invoice already")
    used = tuple(c.ref for c in codes if c.entries_used > 0)
    if used:
        return CancelDecision(False, CancelReason.TICKETS_USED,
                              "tickets of this sale have been used", used)
    gone = tuple(c.ref for c in codes if c.status not in ("issued", "blocked"))
    if gone:
        return CancelDecision(False, CancelReason.TICKETS_NOT_LIVE,
                              "tickets of this sale were revoked or transferred", gone)
    return CancelDecision(True, CancelReason.OK)


def cancellation(session: Session, sale_id: int) -> OutletSaleCancellation | None:
    return session.scalar(select(OutletSaleCancellation)
                          .where(OutletSaleCancellation.sale_id == sale_id))


def cancel_sale(
    session: Session, sale: OutletSale, *, by_role: str, by_device: str, now: datetime,
) -> tuple[OutletSaleCancellation, bool]:
    """Cancel ``sale`` (already found for its outlet): ``(cancellation, new)``.

    Raises:
        Conflict: ``already_invoiced``, ``tickets_used`` or ``tickets_not_live`` (with ``refs``).
    """
    get_outlet(session, sale.outlet_id, lock=True)
    known = cancellation(session, sale.id)
    if known is not None:
        return known, False
    invoiced = session.scalar(select(OutletInvoiceItem.id)
                              .where(OutletInvoiceItem.sale_id == sale.id)) is not None
    rows = list(session.scalars(select(Code).where(Code.ref.in_(sale.refs))
                                .order_by(Code.id).with_for_update()))
    decision = decide_cancel(invoiced=invoiced, codes=[CodeFacts(c.ref, c.status,
                                                                 c.entries_used) for c in rows])
    if not decision.allowed:
        raise refusal(str(decision.reason), decision.message, refs=list(decision.refs))
    for c in rows:
        issuing.change_status(session, c.ref, "revoke", now=now,
                              detail=f"outlet sale {sale.id} cancelled")
    session.execute(
        update(OutletAssignment)
        .where(OutletAssignment.outlet_id == sale.outlet_id,
               OutletAssignment.series_id == sale.series_id)
        .values(sold=OutletAssignment.sold - sale.qty, changed_at=now)
        .execution_options(synchronize_session=False))
    row = OutletSaleCancellation(sale_id=sale.id, at=now, by_role=by_role, by_device=by_device)
    session.add(row)
    session.flush()
    return row, True
