"""One-time gift codes (lottery tickets, gift-set codes) and issuing a coupon into a wallet.

A code is text a customer scans or types; it is normalised (upper case, no spaces or dashes)
before it is stored or looked up, so ``ab12-cd34`` typed on a keypad finds ``AB12CD34``. The
``code`` column is unique across lotteries and gift sets: one text means one thing.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from hub import issuing
from hub.loyalty.errors import Conflict
from hub.loyalty.gift_models import GiftCode
from hub.models import Code, Series
from hub.series import NotFound

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
"""No 0/O or 1/I: a code read off paper is typed right."""
GENERATED_LENGTH = 12
"""32**12 = 2**60 codes: not guessable by a kiosk's rate of tries."""
MAX_BATCH = 10_000
_VALID = re.compile(r"^[A-Z0-9]{4,64}$")


def normalize(text: str) -> str:
    """The stored form of a scanned or typed code (raises :class:`ValueError` if impossible)."""
    out = re.sub(r"[\s-]+", "", text).upper()
    if not _VALID.match(out):
        raise ValueError("a code is 4-64 letters and digits")
    return out


def generate(n: int) -> list[str]:
    return ["".join(secrets.choice(ALPHABET) for _ in range(GENERATED_LENGTH)) for _ in range(n)]


def add_codes(session: Session, *, kind: str, owner_id: int, business_id: int,
              texts: Iterable[str], now: datetime) -> list[str]:
    """Store codes for a lottery or gift set; any that exist already (anywhere) refuse the batch.

    Raises:
        Conflict: ``duplicate_codes`` naming up to 20 of them (nothing is stored).
    """
    codes = list(dict.fromkeys(texts))
    if not 1 <= len(codes) <= MAX_BATCH:
        raise Conflict("bad_batch", f"1..{MAX_BATCH} codes at a time")
    taken: list[str] = []
    for start in range(0, len(codes), 500):
        taken += session.scalars(select(GiftCode.code).where(
            GiftCode.code.in_(codes[start:start + 500])))
    if taken:
        raise Conflict("duplicate_codes", "some codes exist already", codes=sorted(taken)[:20])
    rows = [dict(kind=kind, owner_id=owner_id, business_id=business_id, code=c, created_at=now)
            for c in codes]
    for start in range(0, len(rows), 2000):
        session.execute(insert(GiftCode), rows[start:start + 2000])
    return codes


def make(session: Session, *, kind: str, owner_id: int, business_id: int,
         count: int | None, texts: Sequence[str], now: datetime) -> list[str]:
    """Generate ``count`` codes or import ``texts`` (normalised; a malformed one is a 409)."""
    if texts:
        try:
            wanted = [normalize(t) for t in texts]
        except ValueError as exc:
            raise Conflict("bad_code", str(exc)) from None
    else:
        wanted = generate(count or 0)
    return add_codes(session, kind=kind, owner_id=owner_id, business_id=business_id,
                     texts=wanted, now=now)


def lock_code(session: Session, text: str, kind: str, what: str) -> GiftCode:
    """The code row, locked (a second play of it waits here, then sees it used).

    Raises:
        NotFound: ``unknown {what} code`` (also for text that cannot be a code).
    """
    try:
        code = normalize(text)
    except ValueError:
        raise NotFound(f"unknown {what} code") from None
    row = session.scalar(select(GiftCode).where(GiftCode.code == code, GiftCode.kind == kind)
                         .with_for_update())
    if row is None:
        raise NotFound(f"unknown {what} code")
    return row


def list_codes(session: Session, kind: str, owner_id: int) -> list[dict[str, Any]]:
    return [{"code": c.code, "used": c.used_at is not None}
            for c in session.scalars(select(GiftCode).where(
                GiftCode.kind == kind, GiftCode.owner_id == owner_id).order_by(GiftCode.id))]


def issue_coupon(session: Session, series_id: int, *, customer_id: str, business_id: int,
                 now: datetime) -> dict[str, Any]:
    """Issue one code of ``series_id`` into the customer's wallet: the summary's coupon shape.

    Raises:
        Conflict: ``unavailable`` when the series cannot issue (the caller's transaction rolls
            back whatever it did before).
    """
    from hub.loyalty.service import coupon_json  # the service imports this module's users

    try:
        issued = issuing.issue(session, series_id, customers=[customer_id], now=now)[0]
    except (issuing.IssueError, NotFound) as exc:
        raise Conflict("unavailable", str(exc)) from None
    session.flush()
    code = session.scalar(select(Code).where(Code.ref == issued.ref))
    series = session.get(Series, series_id)
    assert code is not None and series is not None
    return coupon_json(code, series, business_id, reveal=True)


def series_businesses(session: Session, business_ids: list[int]) -> dict[int, int]:
    """Series these businesses give coupons of (every way, :mod:`hub.loyalty.owners`): a series
    → its business. Kept for callers that list by business (passes)."""
    from hub.loyalty import owners

    return owners.series_businesses(session, business_ids)
