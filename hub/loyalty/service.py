"""Loyalty use cases over one session each: register, summary, credit a visit, redeem a reward.

Each write function runs inside the caller's write transaction (``db.write()``) and is
idempotent by its key: a repeated key returns the answer stored the first time.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, or_, select
from sqlalchemy.orm import Session

from hub import issuing
from hub.loyalty import ledger, owners
from hub.loyalty.errors import Conflict, UnknownCustomer
from hub.loyalty.identity import PhoneSecret
from hub.loyalty.identity import register as register_customer
from hub.loyalty.models import Business, Customer, Member, Reward, Rules
from hub.loyalty.rules import decide_visit, plan_spend
from hub.models import Code, Series
from hub.series import NotFound, Visibility
from venue import codes
from venue.messages import rfc3339


def _t(when: datetime | None) -> str | None:
    return None if when is None else rfc3339(when)


def get_business(session: Session, business_id: int) -> Business:
    row = session.get(Business, business_id)
    if row is None:
        raise NotFound(f"no business {business_id}")
    return row


def get_rules(session: Session, business_id: int, *, now: datetime) -> Rules:
    """The business's rules (defaults until someone sets them: nothing is earned)."""
    get_business(session, business_id)
    rules = session.get(Rules, business_id)
    if rules is None:
        rules = Rules(business_id=business_id, visit_points=0, visit_cooldown_s=43200,
                      welcome_bonus=0, points_per_amount=0, beacon_min_dwell_s=300,
                      beacon_visits=False,
                      changed_at=now)
        session.add(rules)
        session.flush()
    return rules


def get_customer(session: Session, customer_id: str) -> Customer:
    row = session.get(Customer, customer_id)
    if row is None:
        raise UnknownCustomer("unknown customer")
    return row


# --- registration and the summary ----------------------------------------------------------------


def register(session: Session, secret: PhoneSecret, e164: str, businesses: list[int], *,
             device: str, now: datetime) -> tuple[Customer, bool]:
    """Register (consent given) and join ``businesses``, granting each one's welcome bonus once."""
    for bid in businesses:
        get_business(session, bid)
    customer, new = register_customer(session, secret, e164, device=device, now=now)
    for bid in businesses:
        rules = get_rules(session, bid, now=now)
        member = ledger.lock_member(session, bid, customer.id, now=now)
        key = f"welcome:{customer.id}"
        if rules.welcome_bonus > 0 and ledger.find_op(session, bid, "welcome", key) is None:
            ttl = rules.welcome_bonus_ttl_s
            ledger.append(session, member, account="bonus_points", delta=rules.welcome_bonus,
                          reason="welcome", key=key, device=device, now=now,
                          expires_at=None if not ttl else now + timedelta(seconds=ttl))
            ledger.record_op(session, business_id=bid, op="welcome", key=key,
                             customer_id=customer.id, device=device, reason="ok", now=now,
                             answer={"points": rules.welcome_bonus})
    return customer, new


def coupon_json(code: Code, series: Series, business: int, *, reveal: bool) -> dict[str, Any]:
    """A coupon as the contract shows it; the code stays hidden where the series says so."""
    show = reveal or series.code_visibility != Visibility.ON_REDEEM or code.entries_used > 0
    return {"ref": code.ref, "series": series.id, "name": series.name, "business": business,
            "status": code.status, "code": code.code_text if show else None,
            "serial": codes.short_serial(series.id, code.serial) if show else None,
            "valid_until": _t(series.valid_until)}


def summary(session: Session, customer: Customer, businesses: list[int], *, now: datetime,
            new: bool = False) -> dict[str, Any]:
    """The customer summary of the contract for the businesses a kiosk shows.

    Coupons listed are the usable ones: issued, entries left, not past their series' end.
    """
    rows = {b.id: b for b in session.scalars(select(Business).where(Business.id.in_(businesses)))}
    members = {m.business_id: m for m in session.scalars(
        select(Member).where(Member.customer_id == customer.id,
                             Member.business_id.in_(businesses)))}
    bonus = ledger.bonus_balances(session, list(rows), customer.id, now)
    balances, spendable = [], {}
    for bid in businesses:
        if bid not in rows:
            continue
        m = members.get(bid)
        points = m.points if m else 0
        spendable[bid] = points + bonus.get(bid, 0)
        balances.append({"business": bid, "business_name": rows[bid].name, "points": points,
                         "bonus_points": bonus.get(bid, 0),
                         "prepaid": f"{m.prepaid if m else 0:.2f}",
                         "currency": rows[bid].currency})
    rewards = list(session.scalars(select(Reward).where(
        Reward.business_id.in_(list(rows)), Reward.active.is_(True)).order_by(Reward.cost)))
    return {
        "customer": customer.id, "masked_phone": customer.masked, "new": new,
        "balances": balances,
        "coupons": live_coupons(session, customer.id, [b for b in businesses if b in rows],
                                now=now),
        "rewards": [{"id": r.id, "business": r.business_id, "name": r.name, "cost": r.cost,
                     "affordable": spendable.get(r.business_id, 0) >= r.cost,
                     "image": None if not r.image else f"/api/v1/media/{r.image}"}
                    for r in rewards],
    }


def live_coupons(session: Session, customer_id: str, businesses: list[int], *,
                 now: datetime) -> list[dict[str, Any]]:
    """Every usable code the customer holds that a kiosk showing ``businesses`` lists, in one
    query: the codes joined to their series' owners (:mod:`hub.loyalty.owners`), whatever gave
    them (reward, lottery, gift set, sale, campaign, poster, promotion, birthday, a friend's
    share or a transfer, an outlet). A code of another business's series is not listed; a code
    of a series no business owns (a venue ticket) is listed under the first business. Usable:
    issued, entries left, not past its series' end; the control code stays hidden where the
    series shows it only once redeemed."""
    if not businesses:
        return []
    found: dict[int, tuple[Code, Series, list[tuple[int | None, int | None]]]] = {}
    for code, series, bid, rank in session.execute(
            _live_codes(owners.version()), {"customer": customer_id, "now": now}).all():
        found.setdefault(code.id, (code, series, []))[2].append((bid, rank))
    out = []
    for code, series, pairs in found.values():
        bid = owners.pick(pairs, businesses)
        if bid is not None:
            out.append(coupon_json(code, series, bid, reveal=False))
    return out


@functools.cache
def _live_codes(version: int) -> Select[Code, Series, int | None, int | None]:
    """The statement of :func:`live_coupons`, built once per owner-source version (SQLAlchemy
    keeps its compiled form: building it per call cost more than running it)."""
    own = owners.owners()
    return (select(Code, Series, own.c.business_id, own.c.rank)
            .join(Series, Series.id == Code.series_id)
            .outerjoin(own, own.c.series_id == Code.series_id)
            .where(Code.customer_id == bindparam("customer"), Code.status == "issued",
                   Code.entries_used < Series.entries_per_code,
                   or_(Series.valid_until.is_(None), Series.valid_until > bindparam("now")))
            .order_by(Code.id))


# --- visits ------------------------------------------------------------------------------------


def credit_visit(session: Session, *, customer_id: str, business_id: int, source: str,
                 device: str, key: str, at: datetime, now: datetime) -> dict[str, Any]:
    """Credit a visit once per cooldown; the decision and the answer are stored by ``key``."""
    return credit_visit_once(session, customer_id=customer_id, business_id=business_id,
                             source=source, device=device, key=key, at=at, now=now)[0]


def credit_visit_once(session: Session, *, customer_id: str, business_id: int, source: str,
                      device: str, key: str, at: datetime,
                      now: datetime) -> tuple[dict[str, Any], bool]:
    """:func:`credit_visit`, also saying whether this call decided (``False``: a repeat)."""
    get_customer(session, customer_id)
    rules = get_rules(session, business_id, now=now)
    member = ledger.lock_member(session, business_id, customer_id, now=now)
    done = ledger.find_op(session, business_id, "visit", key)
    if done is not None:
        return done.answer, False
    at = min(at, now)  # a device's clock ahead of the hub's must not open the cooldown early
    decision = decide_visit(visit_points=rules.visit_points, cooldown_s=rules.visit_cooldown_s,
                            last_visit_at=member.last_visit_at, at=at)
    if decision.credited:
        ledger.append(session, member, account="points", delta=decision.points,
                      reason=f"visit_{source}", key=f"visit:{key}", device=device, now=now)
        member.last_visit_at = at if member.last_visit_at is None else max(at,
                                                                           member.last_visit_at)
    answer = {"credited": decision.credited, "reason": str(decision.reason),
              "points": decision.points, "balance": member.points,
              "next_at": _t(decision.next_at)}
    ledger.record_op(session, business_id=business_id, op="visit", key=key,
                     customer_id=customer_id, device=device, reason=str(decision.reason),
                     now=now, answer=answer)
    return answer, True


# --- rewards -----------------------------------------------------------------------------------


def redeem(session: Session, reward_id: int, *, customer_id: str, key: str, device: str,
           now: datetime) -> dict[str, Any]:
    """Spend the reward's cost and issue its coupon to the customer, in one transaction.

    Raises:
        Conflict: ``insufficient_points`` (nothing is written), or the coupon series cannot
            issue (``unavailable``; the transaction rolls back, so no points are spent).
    """
    reward = session.get(Reward, reward_id)
    if reward is None or not reward.active:
        raise NotFound(f"no reward {reward_id}")
    get_customer(session, customer_id)
    bid = reward.business_id
    member = ledger.lock_member(session, bid, customer_id, now=now)
    done = ledger.find_op(session, bid, "redeem", key)
    if done is not None:
        return done.answer
    lots = ledger.bonus_lots(session, bid, customer_id, now)
    try:
        draws = plan_spend(reward.cost, member.points, lots)
    except ValueError:
        raise Conflict("insufficient_points", "not enough points",
                       balance=member.points + sum(n for _, n in lots),
                       cost=reward.cost) from None
    try:
        issued = issuing.issue(session, reward.series_id, customers=[customer_id], now=now)[0]
    except issuing.IssueError as exc:
        raise Conflict("unavailable", str(exc)) from None
    for i, d in enumerate(draws):
        ledger.append(session, member, account=d.account, delta=-d.amount, reason="reward",
                      key=f"redeem:{key}:{i}", device=device, now=now, ref=issued.ref,
                      expires_at=d.expires_at)
    session.flush()
    code = session.scalar(select(Code).where(Code.ref == issued.ref))
    series = session.get(Series, reward.series_id)
    assert code is not None and series is not None
    answer = {"coupon": coupon_json(code, series, bid, reveal=True),
              "balance": member.points}
    ledger.record_op(session, business_id=bid, op="redeem", key=key, customer_id=customer_id,
                     device=device, reason="ok", now=now, answer=answer)
    notify_redeemed(session, customer_id=customer_id, code=issued, series=series,
                    business_id=bid, key=key, now=now)
    return answer


def notify_redeemed(session: Session, *, customer_id: str, code: issuing.IssuedCode,
                    series: Series, business_id: int, key: str, now: datetime) -> int | None:
    """Tell the customer about the coupon a reward gave (its QR by email, or its serial by SMS),
    queued in the redemption's transaction: sent if and only if the spend is committed, once
    per redemption key. Loyalty rules have no switch for it, so it goes whenever the hub has a
    channel; a hub without any queues nothing (no ``no_channel`` row per kiosk redemption)."""
    from hub.loyalty.campaigns import notify_coupon  # campaigns imports this module
    from hub.notify.queue import Channels, channels_for

    if channels_for(session) == Channels():
        return None
    business = get_business(session, business_id)
    return notify_coupon(session, customer=customer_id, code=code, series=series,
                         business=business.name, key=f"redeem:{business_id}:{key}", now=now)


# --- corrections -------------------------------------------------------------------------------


def correct(session: Session, *, business_id: int, customer_id: str, account: str, delta: int,
            note: str, key: str, device: str, now: datetime,
            expires_at: datetime | None = None) -> dict[str, Any]:
    """An operator's correction: a new ledger row (the ledger is never edited).

    Raises:
        Conflict: ``insufficient_points`` when it would take the points below zero.
    """
    get_business(session, business_id)
    get_customer(session, customer_id)
    member = ledger.lock_member(session, business_id, customer_id, now=now)
    done = ledger.find_op(session, business_id, "correction", key)
    if done is not None:
        return done.answer
    if account == "points" and member.points + delta < 0:
        raise Conflict("insufficient_points", "a correction cannot make points negative",
                       balance=member.points, cost=-delta)
    if account == "bonus_points" and delta < 0:
        raise Conflict("not_supported", "bonus points are taken back by their expiry")
    row = ledger.append(session, member, account=account, delta=delta, reason="correction",
                        key=f"correction:{key}", device=device, now=now, ref=note[:80] or None,
                        expires_at=expires_at if account == "bonus_points" else None)
    session.flush()
    answer = {"entry": row.id, "account": account, "delta": delta, "points": member.points,
              "bonus_points": ledger.bonus_balance(session, business_id, customer_id, now)}
    ledger.record_op(session, business_id=business_id, op="correction", key=key,
                     customer_id=customer_id, device=device, reason="ok", now=now,
                     answer=answer)
    return answer
