"""Sharing a coupon with a friend, where its series allows it.

The sharer gets a share link (a random token; only its hash is kept). When the friend accepts on
their wallet page, the sharer's code is revoked (its QR stops working at every gate, recorded in
the code's history as ``shared``) and a new code of the same series is issued to the friend: a
code that two people hold could be used twice. The new code counts against the series' issue
limit like any other; a series with none left refuses the share (``unavailable``).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import issuing
from hub.loyalty.errors import Conflict
from hub.loyalty.service import coupon_json
from hub.models import Code, Series
from hub.series import CodeMode, NotFound
from hub.wallet.models import SeriesSharing, Share


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def set_shareable(session: Session, series_id: int, shareable: bool, *, now: datetime) -> None:
    row = session.get(SeriesSharing, series_id)
    if row is None:
        session.add(SeriesSharing(series_id=series_id, shareable=shareable, changed_at=now))
    else:
        row.shareable, row.changed_at = shareable, now


def shareable_series(session: Session, series_ids: list[int]) -> set[int]:
    return set(session.scalars(select(SeriesSharing.series_id).where(
        SeriesSharing.series_id.in_(series_ids), SeriesSharing.shareable.is_(True))))


def _usable(code: Code, series: Series, now: datetime) -> bool:
    return (code.status == "issued" and code.entries_used == 0 and series.active
            and (series.valid_until is None or series.valid_until > now))


def offer(session: Session, customer: str, ref: str, *, now: datetime) -> str:
    """A share token for the customer's coupon ``ref`` (an earlier open offer of it is void).

    Raises:
        NotFound: the customer holds no such code (another customer's ref looks the same).
        Conflict: ``not_shareable`` (series rule, shared codes, a used coupon).
    """
    code = session.scalar(select(Code).where(Code.ref == ref, Code.customer_id == customer)
                          .with_for_update())
    if code is None:
        raise NotFound("no such coupon in this wallet")
    series = session.get(Series, code.series_id)
    assert series is not None
    if series.code_mode == CodeMode.SHARED or not shareable_series(session, [series.id]):
        raise Conflict("not_shareable", "this coupon cannot be shared")
    if not _usable(code, series, now):
        raise Conflict("not_shareable", "only an unused, valid coupon can be shared")
    for old in session.scalars(select(Share).where(Share.code_id == code.id,
                                                   Share.status == "open")):
        old.status = "void"
    token = secrets.token_urlsafe(24)
    session.add(Share(token_hash=token_hash(token), code_id=code.id, from_customer=customer,
                      status="open", created_at=now))
    session.flush()
    return token


def preview(session: Session, token: str) -> dict[str, Any] | None:
    """What a share link offers (the coupon's name), for its landing page; ``None``: unknown."""
    share = session.scalar(select(Share).where(Share.token_hash == token_hash(token)))
    if share is None:
        return None
    code = session.get(Code, share.code_id)
    series = None if code is None else session.get(Series, code.series_id)
    return {"status": share.status, "name": "" if series is None else series.name}


def accept(session: Session, friend: str, token: str, *, now: datetime) -> dict[str, Any]:
    """Move the shared coupon to ``friend``: the sharer's code is revoked, a new one issued.

    Raises:
        NotFound: no such share. Conflict: ``own_coupon``, ``share_used``, ``coupon_gone``,
            ``unavailable``.
    """
    share = session.scalar(select(Share).where(Share.token_hash == token_hash(token))
                           .with_for_update())
    if share is None:
        raise NotFound("no such share")
    if share.status == "accepted" and share.to_customer == friend and share.new_ref:
        new = session.scalar(select(Code).where(Code.ref == share.new_ref))
        assert new is not None
        series = session.get(Series, new.series_id)
        assert series is not None
        return {"coupon": coupon_json(new, series, 0, reveal=False), "repeated": True}
    if share.status != "open":
        raise Conflict("share_used", "this share was accepted or withdrawn")
    if share.from_customer == friend:
        raise Conflict("own_coupon", "this is your own coupon")
    code = session.scalar(select(Code).where(Code.id == share.code_id).with_for_update())
    assert code is not None
    series = session.get(Series, code.series_id)
    assert series is not None
    if code.customer_id != share.from_customer or not _usable(code, series, now):
        share.status = "void"
        raise Conflict("coupon_gone", "the coupon was used or is no longer valid")
    try:
        issued = issuing.issue(session, series.id, customers=[friend], now=now)[0]
    except issuing.IssueError as exc:
        raise Conflict("unavailable", str(exc)) from None
    issuing.change_status(session, code.ref, "revoke", now=now,
                          detail=f"shared to {friend} as {issued.ref}")
    share.status, share.to_customer, share.new_ref = "accepted", friend, issued.ref
    share.accepted_at = now
    session.flush()
    new = session.scalar(select(Code).where(Code.ref == issued.ref))
    assert new is not None
    return {"coupon": coupon_json(new, series, 0, reveal=False), "repeated": False}
