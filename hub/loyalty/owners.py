"""Which business a coupon series belongs to: the one place that knows it.

A series has no business column (issue 4's tables stay as they are); a business *owns* a series
by giving its coupons out: as a reward, a lottery prize, a gift-set line, a catalog item sold as a
ticket, a coupon worth something on its checks, a campaign (filter, check or poster QR), a
promotion, or its birthday reward. Each of those is one :class:`OwnerSource` below, and
:func:`owners` is their ``UNION ALL``: one subquery the kiosk summary joins to the customer's
codes, so listing a wallet by business costs one query whatever gave the coupon. A feature that
gives coupons some new way adds its source here (or calls :func:`register` at import).

A series no business owns (a ticket sold only by outlets, or issued by the ticket API) belongs to
the venue as a whole: see :func:`pick`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Select, Subquery, bindparam, literal_column, select, union_all
from sqlalchemy.orm import Session

from hub.loyalty.earn_models import Campaign
from hub.loyalty.gift_models import CouponBenefit, GiftSet, GiftSetLine, ItemSeries, Lottery, Prize
from hub.loyalty.models import Item, Reward
from hub.wallet.models import Promotion, WalletRules

OwnerRows = Select[int | None, int]
"""``(series_id, business_id)`` rows of one source."""


@dataclass(frozen=True, slots=True)
class OwnerSource:
    """One way a business gives out a series' coupons: ``select`` yields ``(series_id,
    business_id)`` rows (``None`` series are filtered out by :func:`owners`)."""

    name: str
    select: Callable[[], OwnerRows]


def _rewards() -> OwnerRows:
    return select(Reward.series_id, Reward.business_id)


def _prizes() -> OwnerRows:
    return (select(Prize.series_id, Lottery.business_id)
            .join(Lottery, Lottery.id == Prize.lottery_id).where(Prize.series_id.is_not(None)))


def _giftsets() -> OwnerRows:
    return (select(GiftSetLine.series_id, GiftSet.business_id)
            .join(GiftSet, GiftSet.id == GiftSetLine.giftset_id))


def _items() -> OwnerRows:
    return select(ItemSeries.series_id, Item.business_id).join(Item, Item.id == ItemSeries.item_id)


def _benefits() -> OwnerRows:
    return select(CouponBenefit.series_id, CouponBenefit.business_id)


def _campaigns() -> OwnerRows:
    return select(Campaign.series_id, Campaign.business_id)


def _promotions() -> OwnerRows:
    return (select(Promotion.series_id, Promotion.business_id)
            .where(Promotion.series_id.is_not(None)))


def _birthdays() -> OwnerRows:
    return (select(WalletRules.birthday_series, WalletRules.business_id)
            .where(WalletRules.birthday_series.is_not(None)))


SOURCES: list[OwnerSource] = [
    OwnerSource("reward", _rewards),
    OwnerSource("lottery_prize", _prizes),
    OwnerSource("gift_set", _giftsets),
    OwnerSource("catalog_item", _items),
    OwnerSource("check_benefit", _benefits),
    OwnerSource("campaign", _campaigns),
    OwnerSource("promotion", _promotions),
    OwnerSource("birthday", _birthdays),
]
"""In order of preference: when two businesses own one series, the earlier source names it."""


def register(source: OwnerSource) -> None:
    """Add a way of giving coupons (a module that adds one calls this once, at import)."""
    global _version
    if all(s.name != source.name for s in SOURCES):
        SOURCES.append(source)
        _version += 1


_version = 0
"""Bumped by :func:`register`: the statements built from :data:`SOURCES` are built again."""


def owners(*, by_business: bool = False) -> Subquery:
    """``(series_id, business_id, rank)`` of every owning source; ``rank`` is the source's
    place in :data:`SOURCES` (lower wins). With ``by_business``, only the businesses of the
    expanding bind parameter ``businesses``.

    The column names are the first source's (``series_id``, ``business_id``): every source
    selects the series first and the business second. Built once per :data:`SOURCES` version:
    SQLAlchemy then reuses its compiled form (building this union anew on every call cost more
    than running it)."""
    return _owners(_version, by_business)


@functools.cache
def _owners(version: int, by_business: bool) -> Subquery:
    parts = []
    for rank, source in enumerate(SOURCES):
        stmt = source.select()
        bid = stmt.selected_columns[1]
        stmt = stmt.add_columns(literal_column(str(rank)).label("rank"))
        if by_business:
            stmt = stmt.where(bid.in_(bindparam("businesses", expanding=True)))
        parts.append(stmt)
    return union_all(*parts).subquery("series_owners")


def series_businesses(session: Session, business_ids: Sequence[int]) -> dict[int, int]:
    """Series owned by these businesses → the owner (by source preference, then lowest id)."""
    if not business_ids:
        return {}
    out: dict[int, int] = {}
    for sid, bid in session.execute(_by_business(_version),
                                    {"businesses": list(business_ids)}).all():
        if sid is not None:
            out.setdefault(int(sid), int(bid))
    return out


@functools.cache
def _by_business(version: int) -> OwnerRows:
    sub = owners(by_business=True)
    return select(sub.c.series_id, sub.c.business_id).order_by(sub.c.rank, sub.c.business_id)


def version() -> int:
    """The :data:`SOURCES` version (a cache key for statements built on :func:`owners`)."""
    return _version


def pick(found: Iterable[tuple[int | None, int | None]], asked: Sequence[int]) -> int | None:
    """The business to list a code under, from its series' owners as ``(business, rank)``
    pairs (``(None, None)`` when nothing owns it), for a kiosk showing ``asked``.

    - owned by an asked business: the best-ranked of those (the order of ``asked`` breaks ties);
    - owned only by businesses not asked: ``None`` (another business's coupon: not listed);
    - owned by nobody: a venue ticket, listed under the kiosk's first business.
    """
    owned = [(rank, asked.index(bid)) for bid, rank in found
             if bid is not None and rank is not None and bid in asked]
    if owned:
        return asked[min(owned)[1]]
    if any(bid is not None for bid, _ in found):
        return None
    return asked[0] if asked else None
