"""Ticket transfers between customers: allowed or forbidden per series, each one recorded.

A transfer never hands the old code on: the new holder gets a new code of the same series (a new
serial, signed like any other) and the old code is revoked, so the old holder's QR stops working
online at once and offline as soon as a gate's replica refreshes (revocations are in it). The
ticket row is locked first, so two racing transfers of one ticket move it once; the transfer is
keyed by its idempotency key, so a retry returns the first transfer.

A transfer needs a free serial in the series (its issue limit must leave room): a sold-out
generated series refuses (409 ``no_serial_left``) rather than mint a serial past its limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import issuing
from hub.loyalty.errors import UnknownCustomer
from hub.loyalty.models import Customer
from hub.models import Code
from hub.outlets.errors import refusal
from hub.outlets.limits import check_purchase, raise_if_refused
from hub.outlets.models import TicketTransfer
from hub.outlets.rules import SalesRules, get_rules
from hub.series import SHARED_SERIAL
from venue import codes
from venue.messages import rfc3339


class TransferReason(StrEnum):
    """Why a transfer may or may not go ahead (the 409 body's ``reason``)."""

    OK = "ok"
    TRANSFER_FORBIDDEN = "transfer_forbidden"
    SHARED_CODE = "shared_code"
    NO_HOLDER = "no_holder"
    NOT_HOLDER = "not_holder"
    SAME_HOLDER = "same_holder"
    NOT_ISSUED = "ticket_not_issued"
    USED = "ticket_used"


@dataclass(frozen=True, slots=True)
class TransferDecision:
    allowed: bool
    reason: TransferReason
    message: str = ""


@dataclass(frozen=True, slots=True)
class TicketFacts:
    """What the decision needs to know about the ticket, as plain values."""

    status: str
    entries_used: int
    holder: str | None
    shared: bool


def decide_transfer(
    rules: SalesRules, ticket: TicketFacts, *, to_customer: str, claimed_holder: str | None,
) -> TransferDecision:
    """Whether a ticket may move to ``to_customer`` (pure).

    ``claimed_holder`` is the customer asking (the wallet's holder); ``None`` when staff ask.
    """
    def no(reason: TransferReason, msg: str) -> TransferDecision:
        return TransferDecision(False, reason, msg)

    if not rules.transferable:
        return no(TransferReason.TRANSFER_FORBIDDEN, "tickets of this series cannot be transferred")
    if ticket.shared:
        return no(TransferReason.SHARED_CODE, "a shared code is the same for every holder: "
                  "it cannot be transferred")
    if ticket.status != "issued":
        return no(TransferReason.NOT_ISSUED, f"the ticket is {ticket.status}")
    if ticket.entries_used > 0:
        return no(TransferReason.USED, "the ticket has been used")
    if ticket.holder is None:
        return no(TransferReason.NO_HOLDER, "the ticket has no holder to transfer it from")
    if claimed_holder is not None and claimed_holder != ticket.holder:
        return no(TransferReason.NOT_HOLDER, "only the ticket's holder can transfer it")
    if to_customer == ticket.holder:
        return no(TransferReason.SAME_HOLDER, "the customer already holds this ticket")
    return TransferDecision(True, TransferReason.OK)


@dataclass(frozen=True, slots=True)
class TransferResult:
    transfer: TicketTransfer
    new_code: Code
    new: bool


def transfer_ticket(
    session: Session, key: str, *, to_customer: str, idempotency_key: str, by_role: str,
    by_device: str, now: datetime, claimed_holder: str | None = None,
) -> TransferResult:
    """Move a ticket (by ref or short serial) to another customer, in the caller's transaction.

    Raises:
        NotFound: no such ticket.
        UnknownCustomer: the recipient is not a customer.
        Conflict: a :class:`TransferReason` refusal, ``per_customer_limit`` of the recipient,
            ``no_serial_left`` (the series cannot issue the new code), or
            ``idempotency_key_reused`` (the key was used for another ticket).
    """
    old = issuing.find_code(session, key, lock=True)
    known = session.scalar(select(TicketTransfer)
                           .where(TicketTransfer.idempotency_key == idempotency_key))
    if known is not None:
        if known.old_ref != old.ref or known.to_customer != to_customer:
            raise refusal("idempotency_key_reused",
                           "this idempotency key was used for another transfer")
        new_code = issuing.find_code(session, known.new_ref)
        return TransferResult(known, new_code, False)
    if session.get(Customer, to_customer) is None:
        raise UnknownCustomer(to_customer)
    facts = TicketFacts(old.status, old.entries_used, old.customer_id,
                        old.serial == SHARED_SERIAL)
    decision = decide_transfer(get_rules(session, old.series_id), facts,
                               to_customer=to_customer, claimed_holder=claimed_holder)
    if not decision.allowed:
        raise refusal(str(decision.reason), decision.message)
    raise_if_refused(check_purchase(session, series_id=old.series_id, customer_id=to_customer,
                                    qty=1, now=now))
    try:
        (issued,) = issuing.issue(session, old.series_id, customers=[to_customer], now=now)
    except issuing.IssueError as exc:
        raise refusal("no_serial_left", f"the new holder needs a new code: {exc}") from None
    issuing.change_status(session, old.ref, "revoke", now=now,
                          detail=f"transferred to {issued.ref}")
    row = TicketTransfer(idempotency_key=idempotency_key, series_id=old.series_id,
                         old_ref=old.ref, new_ref=issued.ref, from_customer=old.customer_id or "",
                         to_customer=to_customer, by_role=by_role, by_device=by_device, at=now)
    session.add(row)
    session.flush()
    return TransferResult(row, issuing.find_code(session, issued.ref), True)


def transfer_dict(row: TicketTransfer) -> dict[str, Any]:
    return {"id": row.id, "series": row.series_id, "old_ref": row.old_ref,
            "new_ref": row.new_ref, "from_customer": row.from_customer,
            "to_customer": row.to_customer, "by_role": row.by_role, "by_device": row.by_device,
            "at": rfc3339(row.at), "idempotency_key": row.idempotency_key}


def result_dict(res: TransferResult) -> dict[str, Any]:
    """The transfer and the new holder's code (to deliver to them)."""
    c = res.new_code
    return {**transfer_dict(res.transfer), "new": res.new,
            "code": {"ref": c.ref, "code": c.code_text, "customer_id": c.customer_id,
                     "short_serial": codes.short_serial(c.series_id, c.serial)}}


def list_transfers(
    session: Session, *, series_id: int | None = None, customer: str | None = None,
    limit: int = 100, before: int | None = None,
) -> list[TicketTransfer]:
    """Transfers, newest first, optionally of one series or involving one customer."""
    stmt = select(TicketTransfer)
    if series_id is not None:
        stmt = stmt.where(TicketTransfer.series_id == series_id)
    if customer is not None:
        stmt = stmt.where((TicketTransfer.from_customer == customer)
                          | (TicketTransfer.to_customer == customer))
    if before is not None:
        stmt = stmt.where(TicketTransfer.id < before)
    return list(session.scalars(stmt.order_by(TicketTransfer.id.desc()).limit(limit)))
