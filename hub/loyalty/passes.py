"""Passes: codes good for N entries (a series with ``entries_per_code = N``), bought through the
catalog or given as a reward, lottery prize or gift set.

The gate needs nothing new: its redemption already counts ``entries_used`` against
``entries_per_code`` and refuses the N+1th entry as ``already_used``. This module only shows a
customer's passes with the entries left (the register's and kiosk's view).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hub.loyalty import giftcodes
from hub.loyalty.models import Reward
from hub.models import Code, Series
from venue import codes
from venue.messages import rfc3339


def entries_left(code: Code, series: Series) -> int:
    return max(0, series.entries_per_code - code.entries_used)


def passes_of(session: Session, customer_id: str, businesses: Sequence[int], *,
              now: datetime) -> list[dict[str, Any]]:
    """The customer's multi-entry codes of these businesses' series, usable or used up."""
    owner = {r.series_id: r.business_id for r in session.scalars(
        select(Reward).where(Reward.business_id.in_(list(businesses))))}
    for sid, bid in giftcodes.series_businesses(session, list(businesses)).items():
        owner.setdefault(sid, bid)
    if not owner:
        return []
    out = []
    rows = session.execute(
        select(Code, Series).join(Series, Series.id == Code.series_id)
        .where(Code.customer_id == customer_id, Code.series_id.in_(list(owner)),
               Series.entries_per_code > 1, Code.status == "issued",
               or_(Series.valid_until.is_(None), Series.valid_until > now))
        .order_by(Code.id)).all()
    for code, series in rows:
        out.append({"ref": code.ref, "series": series.id, "name": series.name,
                    "business": owner[series.id],
                    "serial": codes.short_serial(series.id, code.serial),
                    "entries": series.entries_per_code, "entries_left": entries_left(code, series),
                    "last_used_at": None if code.last_used_at is None
                    else rfc3339(code.last_used_at)})
    return out
