"""Visits from beacon presence: ``beacon.enter``/``beacon.exit`` events → a visit credit.

A scanner reports the rotating (major, minor) an app advertises; the hub alone knows the install
secrets behind the pairs (:mod:`venue.beacon_ids`), so it resolves the pair on the UTC day of the
visit, and credits the install's customer once the dwell reaches the business's minimum. The
idempotency key is the install plus the visit's start (``since``), so the enter and the exit of
one visit, or a redelivered event, credit once; the business's cooldown covers the rest (another
scanner of the same site, a phone walking in and out).
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.loyalty import service
from hub.loyalty.models import Install, Rules
from venue.beacon_ids import PairIndex, utc_day
from venue.errors import PayloadError
from venue.messages import parse_time, rfc3339

SECRET_BYTES = 16


@dataclass(frozen=True, slots=True)
class Presence:
    """What the hub needs from a beacon event (see docs/beacon.md, MQTT)."""

    major: int
    minor: int
    since: datetime
    dwell_s: float


def parse_presence(data: dict[str, Any]) -> Presence:
    """The presence in a ``beacon.enter``/``beacon.exit`` event's data.

    Raises:
        PayloadError: a field is missing or out of range (the event is stored, not applied).
    """
    major, minor, dwell = data.get("major"), data.get("minor"), data.get("dwell_s")
    for name, value in (("major", major), ("minor", minor)):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 65535:
            raise PayloadError(f"beacon event: bad {name}", "bad_field")
    if not isinstance(dwell, (int, float)) or isinstance(dwell, bool) or not 0 <= dwell < 10**7:
        raise PayloadError("beacon event: bad dwell_s", "bad_field")
    since = parse_time(data.get("since"), "since")
    return Presence(int(major), int(minor), since, float(dwell))  # type: ignore[arg-type]


def new_install(session: Session, customer_id: str, *, now: datetime) -> tuple[int, bytes]:
    """Register an app install for a customer: (install id, secret for the app to keep)."""
    service.get_customer(session, customer_id)
    secret = secrets.token_bytes(SECRET_BYTES)
    row = Install(customer_id=customer_id, secret=secret, created_at=now)
    session.add(row)
    session.flush()
    return row.id, secret


class InstallResolver:
    """Pair → install, with a :class:`PairIndex` per UTC day kept between batches.

    The index of a day is built once; installs registered later are added by id (ids only grow).
    Revoked installs are dropped by rebuilding, which a revocation triggers via :meth:`reset`.
    """

    def __init__(self, *, keep_days: int = 3) -> None:
        self.keep_days = keep_days
        self._days: dict[date, tuple[PairIndex, int]] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._days.clear()

    def lookup(self, session: Session, major: int, minor: int, day: date) -> list[int]:
        with self._lock:
            index, last = self._days.get(day, (None, 0))
            rows = session.execute(
                select(Install.id, Install.secret)
                .where(Install.id > last, Install.revoked_at.is_(None)).order_by(Install.id)
            ).all()
            if index is None:
                index = PairIndex({}, day)
                if len(self._days) >= self.keep_days:
                    self._days.pop(min(self._days))
            index.add((str(i), bytes(sec)) for i, sec in rows)
            self._days[day] = (index, rows[-1][0] if rows else last)
            return [int(i) for i in index.lookup((major, minor))]


def resolver_for(db: object) -> InstallResolver:
    """The resolver of one database (kept on its :class:`~hub.db.Database`): its cache holds
    install ids, which mean nothing in another database."""
    found = getattr(db, "_install_resolver", None)
    if found is None:
        found = InstallResolver()
        setattr(db, "_install_resolver", found)  # noqa: B010
    return found  # type: ignore[no-any-return]


def credit_presence(session: Session, presence: Presence, *, device: str, now: datetime,
                    resolver: InstallResolver) -> list[dict[str, Any]]:
    """Credit the visit of the install behind ``presence`` at every business that credits
    beacon visits and whose minimum dwell it reached; returns the answers decided now (a
    repeated visit key returns nothing: it was answered before).

    An unknown pair, or one two installs share that day, credits nothing.
    """
    installs = resolver.lookup(session, presence.major, presence.minor, utc_day(presence.since))
    if len(installs) != 1:
        return []
    install = session.get(Install, installs[0])
    if install is None or install.revoked_at is not None:
        return []
    out = []
    for rules in session.scalars(select(Rules).where(Rules.beacon_visits.is_(True))):
        if presence.dwell_s < rules.beacon_min_dwell_s:
            continue
        key = f"beacon:{install.id}:{rfc3339(presence.since)}"
        answer, fresh = service.credit_visit_once(
            session, customer_id=install.customer_id, business_id=rules.business_id,
            source="beacon", device=device, key=key, at=presence.since, now=now)
        if fresh:
            out.append(answer)
    return out
