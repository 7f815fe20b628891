"""Points for a paper check, claimed by scanning its fiscal QR: each check once, whoever asks.

The QR of a fiscal check is a URL (or a bare query string) whose parameters name the fiscal
register, the check's number, its sum and date. A :class:`FiscalFormat` says which parameters
those are; the Ukrainian tax service's check URL (``fn``, ``id`` or ``no``, ``sm``, ``date``)
comes first, a generic ``t=...&s=...&fn=...&i=...`` form (the FNS layout used by many registers)
second; a venue adds its own format to :data:`FORMATS`. The fiscal identity (format, register,
number, date) is unique in the database, so a check claimed once is ``already_claimed`` for
everyone after, even two customers racing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.loyalty import ledger
from hub.loyalty.earn_models import FiscalClaim
from hub.loyalty.errors import Conflict
from hub.loyalty.rules import accrual
from hub.loyalty.service import get_business, get_customer, get_rules
from hub.series import SeriesError
from venue.messages import rfc3339

MAX_QR = 2000
MAX_AMOUNT = Decimal("1000000")


@dataclass(frozen=True, slots=True)
class FiscalFormat:
    """Where a format keeps each field: the first parameter present of each tuple is used."""

    name: str
    register: tuple[str, ...]
    number: tuple[str, ...]
    amount: tuple[str, ...]
    date: tuple[str, ...]
    hosts: tuple[str, ...] = ()
    """Hosts the URL must have (empty: any host, or a bare query string)."""


FORMATS: list[FiscalFormat] = [
    FiscalFormat("ua", register=("fn",), number=("id", "no"), amount=("sm",), date=("date",),
                 hosts=("cabinet.tax.gov.ua", "tax.gov.ua", "kasa.tax.gov.ua")),
    FiscalFormat("fns", register=("fn",), number=("i",), amount=("s",), date=("t",)),
    FiscalFormat("generic", register=("fn",), number=("id", "no", "i"), amount=("sm", "s"),
                 date=("date", "t")),
]


@dataclass(frozen=True, slots=True)
class FiscalCheck:
    format: str
    register: str
    number: str
    amount: Decimal
    date: str
    """``YYYYMMDD``."""

    @property
    def key(self) -> str:
        """The check's fiscal identity (what makes a claim unique)."""
        return f"{self.format}:{self.register}:{self.number}:{self.date}"


class Unreadable(ValueError):
    """Not a fiscal check QR this hub knows; the message says what is missing."""


_TOKEN = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
_DATE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})")


def _first(params: dict[str, list[str]], names: tuple[str, ...]) -> str | None:
    for name in names:
        if params.get(name):
            return params[name][0].strip()
    return None


def parse_qr(text: str, formats: Sequence[FiscalFormat] | None = None) -> FiscalCheck:
    """The fiscal check a scanned QR names.

    Raises:
        Unreadable: no known format, or a field missing or malformed (named in the message).
    """
    text = text.strip()
    if not text or len(text) > MAX_QR:
        raise Unreadable("empty or too long")
    parts = urlsplit(text)
    if parts.scheme in ("http", "https"):
        host, query = (parts.hostname or "").lower(), parts.query
    elif "=" in text and "://" not in text:
        host, query = "", text.lstrip("?")
    else:
        raise Unreadable("not a URL or a query string")
    params = parse_qs(query, keep_blank_values=False)
    last = "no known fiscal check format"
    for fmt in formats or FORMATS:
        if fmt.hosts and host not in fmt.hosts:
            continue
        register, number = _first(params, fmt.register), _first(params, fmt.number)
        amount, date = _first(params, fmt.amount), _first(params, fmt.date)
        if None in (register, number, amount, date):
            missing = [n for n, v in (("register", register), ("number", number),
                                      ("amount", amount), ("date", date)) if v is None]
            last = f"{fmt.name}: missing {', '.join(missing)}"
            continue
        assert register is not None and number is not None and amount is not None
        assert date is not None
        if not _TOKEN.match(register) or not _TOKEN.match(number):
            raise Unreadable(f"{fmt.name}: register or number is malformed")
        try:
            value = Decimal(amount.replace(",", "."))
        except InvalidOperation:
            raise Unreadable(f"{fmt.name}: amount is not a number") from None
        if not value.is_finite() or value <= 0 or value > MAX_AMOUNT:
            raise Unreadable(f"{fmt.name}: amount out of range")
        m = _DATE.match(date)
        if m is None:
            raise Unreadable(f"{fmt.name}: date is not YYYYMMDD")
        try:
            datetime(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            raise Unreadable(f"{fmt.name}: no such date") from None
        return FiscalCheck(fmt.name, register, number, value.quantize(Decimal("0.01")),
                           f"{m[1]}{m[2]}{m[3]}")
    raise Unreadable(last)


def claim(session: Session, *, business_id: int, customer_id: str, qr: str, key: str,
          device: str, now: datetime) -> dict[str, Any]:
    """Credit the business's points-per-amount for the check in ``qr``, once per check.

    A repeated ``key`` (for this customer) returns the first answer.

    Raises:
        SeriesError: the QR is unreadable (422 on ``qr``).
        Conflict: ``already_claimed`` (by anyone, with the claim time).
        NotFound, UnknownCustomer: no such business or customer.
    """
    get_business(session, business_id)
    get_customer(session, customer_id)
    try:
        check = parse_qr(qr)
    except Unreadable as exc:
        raise SeriesError(f"unreadable fiscal QR: {exc}", "qr") from None
    rules = get_rules(session, business_id, now=now)
    member = ledger.lock_member(session, business_id, customer_id, now=now)
    op_key = f"{customer_id}:{key}"
    done = ledger.find_op(session, business_id, "fiscal", op_key)
    if done is not None:
        return done.answer
    first = session.scalar(select(FiscalClaim).where(FiscalClaim.fiscal_key == check.key))
    if first is not None:
        raise Conflict("already_claimed", "this check was claimed already",
                       claimed_at=rfc3339(first.claimed_at))
    points = accrual(check.amount, rules.points_per_amount)
    row = FiscalClaim(fiscal_key=check.key, business_id=business_id, customer_id=customer_id,
                      amount=check.amount, points=points, device=device, idempotency_key=key,
                      claimed_at=now)
    try:
        with session.begin_nested():  # another customer's claim of this check in flight
            session.add(row)
            session.flush()
    except IntegrityError:
        raise Conflict("already_claimed", "this check was claimed already") from None
    if points > 0:
        ledger.append(session, member, account="points", delta=points, reason="fiscal",
                      key=f"fiscal:{row.id}", device=device, now=now,
                      ref=f"{check.register}:{check.number}"[:80])
    answer = {"claim": row.id, "business": business_id, "customer": customer_id,
              "amount": f"{check.amount:.2f}", "date": check.date, "format": check.format,
              "points": points, "balance": member.points}
    ledger.record_op(session, business_id=business_id, op="fiscal", key=op_key,
                     customer_id=customer_id, device=device, reason="ok", now=now, answer=answer)
    return answer
