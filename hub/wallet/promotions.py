"""Promotions and news of a business, and claiming the coupon a promotion carries.

A customer gets a promotion's coupon once: the claim row is unique per (promotion, customer), and
the claim runs under the customer's member row lock, so two claims of one customer (two keys,
two devices) cannot both issue. Points are spent through the ledger with keys derived from the
promotion and the customer, so even a bug above could not spend them twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hub import issuing
from hub.loyalty import ledger
from hub.loyalty.errors import Conflict
from hub.loyalty.rules import plan_spend
from hub.loyalty.service import coupon_json, get_business, get_customer
from hub.models import Code, Series
from hub.series import NotFound, get_series
from hub.wallet.models import Promotion, PromotionClaim
from venue.messages import rfc3339


class ClaimReason:
    """The 409 reasons of a claim (docs/contracts.md)."""

    ALREADY_CLAIMED = "already_claimed"
    INSUFFICIENT_POINTS = "insufficient_points"
    NO_COUPON = "no_coupon"
    ENDED = "ended"
    UNAVAILABLE = "unavailable"
    """The coupon's series can issue no more (or is inactive): nothing is spent."""


@dataclass(frozen=True)
class PromotionSpec:
    """What an operator posts; checked by the API schema, stored by :func:`save`."""

    business: int
    title: str
    text: str = ""
    image: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    series: int | None = None
    cost: int = 0
    active: bool = True


def _t(when: datetime | None) -> str | None:
    return None if when is None else rfc3339(when)


def is_running(promo: Promotion, now: datetime) -> bool:
    """Shown and claimable now: active, started, not ended."""
    return promo.active and promo.starts_at <= now and (promo.ends_at is None
                                                         or promo.ends_at > now)


def promotion_json(promo: Promotion, series_name: str | None) -> dict[str, Any]:
    coupon = None
    if promo.series_id is not None:
        coupon = {"series": promo.series_id, "name": series_name or "", "cost": promo.cost}
    return {"id": promo.id, "business": promo.business_id, "title": promo.title,
            "text": promo.text, "image": None if not promo.image else
            f"/api/v1/media/{promo.image}", "starts_at": _t(promo.starts_at),
            "ends_at": _t(promo.ends_at), "coupon": coupon, "active": promo.active}


def save(session: Session, spec: PromotionSpec, *, now: datetime,
         promo_id: int | None = None) -> Promotion:
    """Create a promotion, or replace every field of ``promo_id``.

    Raises:
        NotFound: no such business, series or promotion.
    """
    get_business(session, spec.business)
    if spec.series is not None:
        get_series(session, spec.series)
    if promo_id is None:
        promo = Promotion(created_at=now)
        session.add(promo)
    else:
        found = session.get(Promotion, promo_id)
        if found is None:
            raise NotFound(f"no promotion {promo_id}")
        promo = found
    promo.business_id = spec.business
    promo.title = spec.title
    promo.text = spec.text
    promo.image = spec.image
    promo.starts_at = spec.starts_at or (now if promo_id is None else promo.starts_at)
    promo.ends_at = spec.ends_at
    promo.series_id = spec.series
    promo.cost = spec.cost
    promo.active = spec.active
    promo.changed_at = now
    session.flush()
    return promo


def withdraw(session: Session, promo_id: int, *, now: datetime) -> Promotion:
    """Stop showing a promotion (claims made stay: the row is kept, only deactivated)."""
    promo = session.get(Promotion, promo_id)
    if promo is None:
        raise NotFound(f"no promotion {promo_id}")
    promo.active = False
    promo.changed_at = now
    return promo


def listing(session: Session, businesses: list[int], *, now: datetime,
            everything: bool = False) -> list[dict[str, Any]]:
    """Promotions of ``businesses`` (all when empty), newest first; running ones only unless
    ``everything`` (the operator's view)."""
    stmt = select(Promotion, Series.name).outerjoin(Series, Series.id == Promotion.series_id)
    if businesses:
        stmt = stmt.where(Promotion.business_id.in_(businesses))
    if not everything:
        stmt = stmt.where(Promotion.active.is_(True), Promotion.starts_at <= now,
                          or_(Promotion.ends_at.is_(None), Promotion.ends_at > now))
    stmt = stmt.order_by(Promotion.starts_at.desc(), Promotion.id.desc())
    return [promotion_json(p, name) for p, name in session.execute(stmt).all()]


def claimed_by(session: Session, customer_id: str) -> set[int]:
    """Ids of the promotions this customer has claimed."""
    return set(session.scalars(select(PromotionClaim.promotion_id)
                               .where(PromotionClaim.customer_id == customer_id)))


def claim(session: Session, promo_id: int, *, customer_id: str, key: str, device: str,
          now: datetime) -> dict[str, Any]:
    """Spend the promotion's cost and issue its coupon to the customer, once per customer.

    Repeating ``key`` returns the first answer; another key for a promotion already claimed is
    ``already_claimed``.

    Raises:
        NotFound: no such promotion. UnknownCustomer: no such customer.
        Conflict: one of :class:`ClaimReason` (nothing is written).
    """
    promo = session.get(Promotion, promo_id)
    if promo is None:
        raise NotFound(f"no promotion {promo_id}")
    get_customer(session, customer_id)
    member = ledger.lock_member(session, promo.business_id, customer_id, now=now)
    done = session.scalar(select(PromotionClaim).where(
        PromotionClaim.promotion_id == promo.id, PromotionClaim.customer_id == customer_id))
    if done is not None:
        if done.idempotency_key == key:
            return done.answer
        raise Conflict(ClaimReason.ALREADY_CLAIMED, "this promotion's coupon was claimed before")
    if not is_running(promo, now):
        raise Conflict(ClaimReason.ENDED, "this promotion is not running")
    if promo.series_id is None:
        raise Conflict(ClaimReason.NO_COUPON, "this promotion carries no coupon")
    lots = ledger.bonus_lots(session, promo.business_id, customer_id, now)
    try:
        draws = plan_spend(promo.cost, member.points, lots)
    except ValueError:
        raise Conflict(ClaimReason.INSUFFICIENT_POINTS, "not enough points",
                       balance=member.points + sum(n for _, n in lots), cost=promo.cost) from None
    try:
        issued = issuing.issue(session, promo.series_id, customers=[customer_id], now=now)[0]
    except issuing.IssueError as exc:
        raise Conflict(ClaimReason.UNAVAILABLE, str(exc)) from None
    for i, d in enumerate(draws):
        ledger.append(session, member, account=d.account, delta=-d.amount, reason="promotion",
                      key=f"promo:{promo.id}:{customer_id}:{i}", device=device, now=now,
                      ref=issued.ref, expires_at=d.expires_at)
    session.flush()
    code = session.scalar(select(Code).where(Code.ref == issued.ref))
    series = session.get(Series, promo.series_id)
    assert code is not None and series is not None
    answer = {"coupon": coupon_json(code, series, promo.business_id, reveal=True),
              "balance": member.points}
    session.add(PromotionClaim(promotion_id=promo.id, customer_id=customer_id,
                               idempotency_key=key, ref=issued.ref, device=device, at=now,
                               answer=answer))
    session.flush()
    return answer


def series_businesses(session: Session, business_ids: list[int]) -> dict[int, int]:
    """Series whose coupons these businesses give through the wallet (promotions, birthday
    rewards): series → business, for a kiosk summary that lists coupons by business."""
    from hub.wallet.models import WalletRules

    if not business_ids:
        return {}
    out: dict[int, int] = {}
    rows: list[Any] = list(session.execute(
            select(Promotion.series_id, Promotion.business_id)
            .where(Promotion.business_id.in_(business_ids), Promotion.series_id.is_not(None))
            .union(select(WalletRules.birthday_series, WalletRules.business_id)
                   .where(WalletRules.business_id.in_(business_ids),
                          WalletRules.birthday_series.is_not(None)))).all())
    for sid, bid in rows:
        out.setdefault(int(sid), int(bid))
    return out
