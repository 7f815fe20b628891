"""Lottery: a business's prize list and one-time codes; playing a code draws one prize.

The draw is a pure function of the prizes left and a roll (:func:`decide_draw`); the random
source is injected (``randbelow``), so tests fix the outcome and the hub uses the OS's.

Exactly once: the code row is locked, then the idempotency key is looked up (a repeat gets the
first answer), then a used code is refused (``already_played``). The lottery row is locked too,
so plays of one lottery and an upload of its prize list happen one after another; the prize
count is taken with a conditional ``UPDATE ... WHERE remaining > 0`` (and a check constraint),
so it cannot go below zero even if that lock were lost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from hub.loyalty import giftcodes, ledger
from hub.loyalty.errors import Conflict
from hub.loyalty.gift_models import Lottery, Prize
from hub.loyalty.service import get_business, get_customer
from hub.series import NotFound, get_series

KIND = "lottery"
RandBelow = Callable[[int], int]
"""``randbelow(n)`` → an int in ``[0, n)`` (``secrets.randbelow``, or a seeded one in tests)."""


@dataclass(frozen=True)
class PrizeChance:
    """A prize as the draw sees it."""

    id: int
    weight: int | None
    remaining: int | None


@dataclass(frozen=True)
class Draw:
    prize: int | None
    reason: str
    """``drawn`` or ``no_prizes`` (every prize is given out or has weight 0)."""


def chance(p: PrizeChance) -> int:
    """A prize's weight now: its own, or (without one) how many are left; 0 when none left."""
    if p.remaining is not None and p.remaining <= 0:
        return 0
    if p.weight is not None:
        return max(0, p.weight)
    return p.remaining or 0


def total_weight(prizes: Sequence[PrizeChance]) -> int:
    return sum(chance(p) for p in prizes)


def decide_draw(prizes: Sequence[PrizeChance], roll: int) -> Draw:
    """The prize whose weight interval holds ``roll`` (``0 <= roll < total_weight``)."""
    total = total_weight(prizes)
    if total <= 0:
        return Draw(None, "no_prizes")
    if not 0 <= roll < total:
        raise ValueError(f"roll {roll} outside 0..{total - 1}")
    for p in prizes:
        w = chance(p)
        if roll < w:
            return Draw(p.id, "drawn")
        roll -= w
    raise AssertionError("unreachable")


# --- administration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PrizeSpec:
    name: str
    series: int | None
    weight: int | None
    count: int | None


def lottery_json(row: Lottery) -> dict[str, Any]:
    return {"id": row.id, "business": row.business_id, "name": row.name, "text": row.text,
            "active": row.active}


def prize_json(p: Prize) -> dict[str, Any]:
    return {"id": p.id, "name": p.name, "series": p.series_id, "weight": p.weight,
            "remaining": p.remaining}


def create(session: Session, *, business_id: int, name: str, text: str,
           now: datetime) -> Lottery:
    get_business(session, business_id)
    row = Lottery(business_id=business_id, name=name, text=text, active=True, created_at=now)
    session.add(row)
    session.flush()
    return row


def get_lottery(session: Session, lottery_id: int, *, lock: bool = False) -> Lottery:
    stmt = select(Lottery).where(Lottery.id == lottery_id)
    if lock:
        stmt = stmt.with_for_update()
    row = session.scalar(stmt)
    if row is None:
        raise NotFound(f"no lottery {lottery_id}")
    return row


def set_prizes(session: Session, lottery_id: int, prizes: Sequence[PrizeSpec]) -> list[Prize]:
    """Replace the lottery's prize list (an upload); plays already made keep their answers."""
    get_lottery(session, lottery_id, lock=True)
    for p in prizes:
        if p.series is not None:
            get_series(session, p.series)
    session.execute(delete(Prize).where(Prize.lottery_id == lottery_id))
    rows = [Prize(lottery_id=lottery_id, name=p.name, series_id=p.series, weight=p.weight,
                  remaining=p.count) for p in prizes]
    session.add_all(rows)
    session.flush()
    return rows


def prizes_of(session: Session, lottery_id: int) -> list[Prize]:
    return list(session.scalars(select(Prize).where(Prize.lottery_id == lottery_id)
                                .order_by(Prize.id)))


def set_active(session: Session, lottery_id: int, active: bool) -> Lottery:
    row = get_lottery(session, lottery_id, lock=True)
    row.active = active
    return row


def running(session: Session, businesses: Sequence[int]) -> list[Lottery]:
    """Active lotteries of these businesses that still have a prize to give."""
    rows = list(session.scalars(select(Lottery).where(
        Lottery.business_id.in_(list(businesses)), Lottery.active.is_(True))
        .order_by(Lottery.id)))
    out = []
    for row in rows:
        chances = [PrizeChance(p.id, p.weight, p.remaining) for p in prizes_of(session, row.id)]
        if total_weight(chances) > 0:
            out.append(row)
    return out


def make_codes(session: Session, lottery_id: int, *, count: int | None = None,
               texts: Sequence[str] = (), now: datetime) -> list[str]:
    """Generate ``count`` codes or import ``texts`` (normalised; a malformed one is a 409)."""
    row = get_lottery(session, lottery_id)
    return giftcodes.make(session, kind=KIND, owner_id=row.id, business_id=row.business_id,
                          count=count, texts=texts, now=now)


# --- playing -----------------------------------------------------------------------------------


def _take(session: Session, prize: Prize) -> bool:
    """Take one of a counted prize; ``False`` when none is left (someone took the last)."""
    if prize.remaining is None:
        return True
    done = session.execute(update(Prize).where(Prize.id == prize.id, Prize.remaining > 0)
                           .values(remaining=Prize.remaining - 1)
                           .execution_options(synchronize_session=False))
    return bool(getattr(done, "rowcount", 0) == 1)


def play(session: Session, *, customer_id: str, text: str, key: str, device: str,
         now: datetime, randbelow: RandBelow) -> dict[str, Any]:
    """Play a lottery code once: draw a prize and issue its coupon into the customer's wallet.

    Raises:
        NotFound: ``unknown lottery code``.
        Conflict: ``already_played`` (the code was played before, by anyone, with another
            key), ``ended`` (the lottery is switched off), ``no_prizes`` (all given out; the
            code stays unplayed), ``unavailable`` (the prize's series cannot issue; nothing is
            written and the code stays unplayed).
    """
    get_customer(session, customer_id)
    code = giftcodes.lock_code(session, text, KIND, "lottery")
    done = ledger.find_op(session, code.business_id, "lottery", key)
    if done is not None:
        return done.answer
    if code.used_at is not None:
        raise Conflict("already_played", "this code was played before")
    lottery = get_lottery(session, code.owner_id, lock=True)
    if not lottery.active:
        raise Conflict("ended", "this lottery has ended")
    prizes = {p.id: p for p in session.scalars(
        select(Prize).where(Prize.lottery_id == lottery.id).order_by(Prize.id)
        .execution_options(populate_existing=True))}
    while True:
        chances = [PrizeChance(p.id, p.weight, p.remaining) for p in prizes.values()]
        total = total_weight(chances)
        draw = decide_draw(chances, randbelow(total) if total > 0 else 0)
        if draw.prize is None:
            raise Conflict("no_prizes", "every prize of this lottery is given out")
        prize = prizes[draw.prize]
        if _take(session, prize):
            break
        session.refresh(prize)  # the last one was taken meanwhile: draw again
    coupon = None
    if prize.series_id is not None:
        coupon = giftcodes.issue_coupon(session, prize.series_id, customer_id=customer_id,
                                        business_id=lottery.business_id, now=now)
    answer = {"lottery": {"id": lottery.id, "name": lottery.name},
              "prize": {"name": prize.name, "coupon": coupon}}
    code.used_at, code.customer_id, code.prize_id, code.answer = now, customer_id, prize.id, answer
    ledger.record_op(session, business_id=code.business_id, op="lottery", key=key,
                     customer_id=customer_id, device=device, reason="ok", now=now,
                     answer=answer)
    return answer
