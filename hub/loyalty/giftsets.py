"""Gift sets: one code gives several coupons (one per series of the set), once.

Same exactly-once path as the lottery: lock the code row, look the idempotency key up (a repeat
gets the first answer), refuse a used code (``already_redeemed``), issue every coupon and mark
the code used in one transaction (a series that cannot issue rolls all of it back).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.loyalty import giftcodes, ledger
from hub.loyalty.errors import Conflict
from hub.loyalty.gift_models import GiftSet, GiftSetLine
from hub.loyalty.service import get_business, get_customer
from hub.series import NotFound, get_series

KIND = "giftset"


def giftset_json(row: GiftSet, series: Sequence[int]) -> dict[str, Any]:
    return {"id": row.id, "business": row.business_id, "name": row.name, "series": list(series)}


def create(session: Session, *, business_id: int, name: str, series: Sequence[int],
           now: datetime) -> dict[str, Any]:
    get_business(session, business_id)
    for sid in series:
        get_series(session, sid)
    row = GiftSet(business_id=business_id, name=name, created_at=now)
    session.add(row)
    session.flush()
    session.add_all([GiftSetLine(giftset_id=row.id, series_id=sid) for sid in series])
    return giftset_json(row, series)


def get_giftset(session: Session, giftset_id: int) -> GiftSet:
    row = session.get(GiftSet, giftset_id)
    if row is None:
        raise NotFound(f"no gift set {giftset_id}")
    return row


def lines(session: Session, giftset_id: int) -> list[int]:
    return list(session.scalars(select(GiftSetLine.series_id)
                                .where(GiftSetLine.giftset_id == giftset_id)
                                .order_by(GiftSetLine.id)))


def make_codes(session: Session, giftset_id: int, *, count: int | None = None,
               texts: Sequence[str] = (), now: datetime) -> list[str]:
    row = get_giftset(session, giftset_id)
    return giftcodes.make(session, kind=KIND, owner_id=row.id, business_id=row.business_id,
                          count=count, texts=texts, now=now)


def redeem(session: Session, *, customer_id: str, text: str, key: str, device: str,
           now: datetime) -> dict[str, Any]:
    """Give the set's coupons to the customer, once per code.

    Raises:
        NotFound: ``unknown gift set code``.
        Conflict: ``already_redeemed`` (by anyone, with another key); ``unavailable`` when a
            series cannot issue (nothing is written; the code stays unused).
    """
    get_customer(session, customer_id)
    code = giftcodes.lock_code(session, text, KIND, "gift set")
    done = ledger.find_op(session, code.business_id, "giftset", key)
    if done is not None:
        return done.answer
    if code.used_at is not None:
        raise Conflict("already_redeemed", "this gift set code was redeemed before")
    giftset = get_giftset(session, code.owner_id)
    coupons = [giftcodes.issue_coupon(session, sid, customer_id=customer_id,
                                      business_id=giftset.business_id, now=now)
               for sid in lines(session, giftset.id)]
    answer = {"giftset": {"id": giftset.id, "name": giftset.name}, "coupons": coupons}
    code.used_at, code.customer_id, code.answer = now, customer_id, answer
    ledger.record_op(session, business_id=code.business_id, op="giftset", key=key,
                     customer_id=customer_id, device=device, reason="ok", now=now,
                     answer=answer)
    return answer
