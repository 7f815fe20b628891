"""What a customer's wallet page shows, as plain data (rendered by :mod:`hub.wallet.page`).

Everything is selected by the customer id the link resolved to, never by an id from the URL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hub.loyalty import ledger
from hub.loyalty.models import Business, LedgerEntry, Member
from hub.loyalty.service import get_customer
from hub.models import Code, Redemption, Series
from hub.series import CodeMode, Visibility
from hub.wallet import promotions
from hub.wallet.models import WalletProfile
from hub.wallet.sharing import shareable_series
from venue import codes
from venue.messages import rfc3339

HISTORY_ROWS = 50


def code_visible(series: Series, code: Code) -> bool:
    """The series' rule: ``on_redeem`` codes stay hidden until the code has been used once."""
    return series.code_visibility != Visibility.ON_REDEEM or code.entries_used > 0


def wallet_view(session: Session, customer_id: str, *, now: datetime) -> dict[str, Any]:
    """The page's data; the customer's profile must exist (:func:`profiles.profile_of`)."""
    customer = get_customer(session, customer_id)
    profile = session.get(WalletProfile, customer_id)
    if profile is None:
        raise LookupError(f"no wallet profile for {customer_id}")
    members = list(session.scalars(select(Member).where(Member.customer_id == customer_id)
                                   .order_by(Member.business_id)))
    bids = [m.business_id for m in members]
    names = {b.id: (b.name, b.currency) for b in session.scalars(select(Business))}
    bonus = ledger.bonus_balances(session, bids, customer_id, now) if bids else {}
    balances = [{"business": m.business_id, "name": names.get(m.business_id, ("", ""))[0],
                 "points": m.points, "bonus_points": bonus.get(m.business_id, 0),
                 "prepaid": f"{m.prepaid:.2f}",
                 "currency": names.get(m.business_id, ("", "UAH"))[1]} for m in members]
    rows = session.execute(
        select(Code, Series).join(Series, Series.id == Code.series_id)
        .where(Code.customer_id == customer_id, Code.status == "issued",
               Code.entries_used < Series.entries_per_code,
               or_(Series.valid_until.is_(None), Series.valid_until > now))
        .order_by(Code.id)).all()
    can_share = shareable_series(session, list({s.id for _, s in rows})) if rows else set()
    wallet_codes = []
    for code, series in rows:
        show = code_visible(series, code)
        wallet_codes.append({
            "ref": code.ref, "series": series.id, "name": series.name, "kind": series.kind,
            "valid_until": None if series.valid_until is None else rfc3339(series.valid_until),
            "entries_left": series.entries_per_code - code.entries_used,
            "code": code.code_text if show else None,
            "serial": codes.short_serial(series.id, code.serial) if show else None,
            "shareable": series.id in can_share and series.code_mode != CodeMode.SHARED
            and code.entries_used == 0,
        })
    claimed = promotions.claimed_by(session, customer_id)
    promos = [dict(p, claimed=p["id"] in claimed)
              for p in promotions.listing(session, bids, now=now)]
    entries = session.scalars(select(LedgerEntry).where(LedgerEntry.customer_id == customer_id)
                              .order_by(LedgerEntry.id.desc()).limit(HISTORY_ROWS))
    history = [{"at": rfc3339(e.at), "business": names.get(e.business_id, ("", ""))[0],
                "account": e.account, "delta": e.delta, "reason": e.reason} for e in entries]
    used = session.execute(
        select(Redemption, Series.name).join(Code, Code.id == Redemption.code_id)
        .join(Series, Series.id == Code.series_id)
        .where(Code.customer_id == customer_id)
        .order_by(Redemption.id.desc()).limit(HISTORY_ROWS)).all()
    redemptions = [{"at": rfc3339(r.scanned_at), "name": name, "gate": r.gate,
                    "result": r.result, "reason": r.reason} for r, name in used]
    return {
        "customer": customer.id, "masked_phone": customer.masked, "balances": balances,
        "codes": wallet_codes, "promotions": promos, "history": history,
        "redemptions": redemptions, "referral_code": profile.referral_code,
        "birthday": None if profile.birthday_month is None else
        {"month": profile.birthday_month, "day": profile.birthday_day},
    }
