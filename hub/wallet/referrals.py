"""Referrals: a new customer who joins with a friend's referral code; both get their bonus.

A customer is referred once ever (``wallet_referrals.referee`` is unique) and only while new
(registered at most ``window_s`` before). The bonuses are ledger rows keyed by the referee
(``referral:{referee}:referrer`` and ``...:referee`` per business), so each is credited once
whatever is retried.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.loyalty import ledger
from hub.loyalty.errors import Conflict
from hub.loyalty.models import Business
from hub.loyalty.service import get_customer
from hub.series import NotFound
from hub.wallet import notices
from hub.wallet.models import Referral, WalletRules
from hub.wallet.profiles import by_referral_code


def referral_json(row: Referral) -> dict[str, Any]:
    return {"referrer": row.referrer, "referee": row.referee, "credited": row.credited}


def accept(session: Session, *, referee: str, code: str, businesses: list[int], device: str,
           now: datetime, window_s: int) -> dict[str, Any]:
    """Record that ``referee`` joined with ``code`` and credit both by each business's rules.

    Raises:
        NotFound: no such referral code. UnknownCustomer: no such referee.
        Conflict: ``self_referral``, ``already_referred`` (by someone else), ``not_new``.
    """
    new = get_customer(session, referee)
    profile = by_referral_code(session, code)
    if profile is None:
        raise NotFound("unknown referral code")
    referrer = profile.customer_id
    if referrer == referee:
        raise Conflict("self_referral", "a customer cannot refer themselves")
    done = session.scalar(select(Referral).where(Referral.referee == referee))
    if done is not None:
        if done.referrer == referrer:
            return referral_json(done)
        raise Conflict("already_referred", "this customer was referred by someone else")
    if new.created_at < now - timedelta(seconds=window_s):
        raise Conflict("not_new", "only a customer who just joined can be referred")
    credited: dict[str, dict[str, int]] = {}
    names = {b.id: b.name for b in session.scalars(
        select(Business).where(Business.id.in_(businesses)))}
    rules = session.scalars(select(WalletRules).where(WalletRules.business_id.in_(businesses))
                            .order_by(WalletRules.business_id))
    for r in rules:
        got: dict[str, int] = {}
        # lock both members in one order (customer id) so two referrals cannot deadlock
        for who, points in sorted(((referrer, r.referrer_points), (referee, r.referee_points))):
            member = ledger.lock_member(session, r.business_id, who, now=now)
            if points <= 0:
                continue
            role = "referrer" if who == referrer else "referee"
            ledger.append(session, member, account="points", delta=points, reason="referral",
                          key=f"referral:{referee}:{role}", device=device, now=now,
                          ref=referee if role == "referrer" else referrer)
            got[role] = points
            notices.send(session, customer=who, kind="referral", subject=names.get(
                r.business_id, ""), text=f"{points} points for a friend's referral",
                key=f"referral:{r.business_id}:{referee}:{role}", now=now)
        if got:
            credited[str(r.business_id)] = got
    row = Referral(referee=referee, referrer=referrer, credited=credited, at=now)
    session.add(row)
    session.flush()
    return referral_json(row)
