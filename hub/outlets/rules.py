"""A series' sales rules: purchase limits, whether tickets may be transferred, phone binding."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from hub.outlets import holder
from hub.outlets.models import SeriesSalesRules
from hub.series import SeriesError, get_series

MAX_LIMIT = 100_000


@dataclass(frozen=True, slots=True)
class SalesRules:
    """Plain values of a series' rules (the defaults are what a series without a row gets)."""

    per_order_limit: int | None = None
    per_customer_limit: int | None = None
    transferable: bool = True
    bound_to_phone: bool = False

    def check(self) -> None:
        """Raise :class:`SeriesError` naming the field that is out of range."""
        for name in ("per_order_limit", "per_customer_limit"):
            value = getattr(self, name)
            if value is not None and not 1 <= value <= MAX_LIMIT:
                raise SeriesError(f"{name} must be 1..{MAX_LIMIT} or null", name)

    def to_dict(self) -> dict[str, Any]:
        return {"per_order_limit": self.per_order_limit,
                "per_customer_limit": self.per_customer_limit,
                "transferable": self.transferable, "bound_to_phone": self.bound_to_phone}


def get_rules(session: Session, series_id: int) -> SalesRules:
    """The series' rules (defaults when none were set). Raises NotFound for no such series."""
    get_series(session, series_id)
    row = session.get(SeriesSalesRules, series_id)
    if row is None:
        return SalesRules()
    return SalesRules(row.per_order_limit, row.per_customer_limit, row.transferable,
                      row.bound_to_phone)


def set_rules(session: Session, series_id: int, rules: SalesRules, *,
              now: datetime) -> SalesRules:
    """Store the series' rules (replacing what was there); tickets already sold stay sold."""
    rules.check()
    get_series(session, series_id, lock=True)
    row = session.get(SeriesSalesRules, series_id)
    if row is None:
        row = SeriesSalesRules(series_id=series_id, changed_at=now)
        session.add(row)
    row.per_order_limit = rules.per_order_limit
    row.per_customer_limit = rules.per_customer_limit
    row.transferable = rules.transferable
    row.bound_to_phone = rules.bound_to_phone
    row.changed_at = now
    session.flush()
    holder.forget(session.connection())
    return rules
