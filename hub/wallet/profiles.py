"""A customer's wallet profile: birthday and referral code, made on first need."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.loyalty.service import get_customer
from hub.wallet.models import WalletProfile

_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
"""Referral codes are read off posters and typed: no 0/O, 1/I."""


def new_referral_code() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(8))


def profile_of(session: Session, customer: str, *, now: datetime) -> WalletProfile:
    """The customer's profile, created (with a fresh referral code) if missing."""
    found = session.get(WalletProfile, customer)
    if found is not None:
        return found
    get_customer(session, customer)
    for _ in range(5):
        try:
            with session.begin_nested():
                row = WalletProfile(customer_id=customer, referral_code=new_referral_code(),
                                    created_at=now)
                session.add(row)
            return row
        except IntegrityError:  # a clashing code, or a concurrent first use
            found = session.get(WalletProfile, customer)
            if found is not None:
                return found
    raise RuntimeError("could not make a unique referral code")


def by_referral_code(session: Session, code: str) -> WalletProfile | None:
    code = code.strip()
    if not (code.isascii() and code.isalnum() and len(code) <= 16):
        return None
    return session.scalar(select(WalletProfile).where(
        WalletProfile.referral_code == code.strip().upper()))


def valid_birthday(month: int, day: int) -> bool:
    """Any day of the calendar (29 February included: it is celebrated on the 28th)."""
    days = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
    return 1 <= month <= 12 and 1 <= day <= days[month - 1]


def set_birthday(session: Session, customer: str, month: int, day: int, *,
                 now: datetime) -> WalletProfile:
    """Record the customer's birthday (month and day only: the year is not needed)."""
    if not valid_birthday(month, day):
        raise ValueError("no such day")
    profile = profile_of(session, customer, now=now)
    profile.birthday_month, profile.birthday_day = month, day
    return profile
