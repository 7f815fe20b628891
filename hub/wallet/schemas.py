"""Request bodies of the wallet, promotions, triggers, sharing and referral endpoints (strict)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from hub.api.loyalty_schemas import BusinessId, CustomerId, IdemKey, MediaName, PhoneText, RowId
from hub.api.schemas import Printable, Strict, Timestamp


def _storable(value: str) -> str:
    """Text every database stores: no NUL (PostgreSQL refuses it), no lone surrogates."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid text") from None
    return value


Title = Annotated[Printable, Field(min_length=1, max_length=200)]
LongText = Annotated[str, Field(max_length=4000), AfterValidator(_storable)]
"""News and message text: line breaks allowed."""
Points = Annotated[int, Field(ge=0, le=1_000_000)]


class PromotionIn(Strict):
    business: BusinessId
    title: Title
    text: LongText = ""
    image: MediaName | None = None
    starts_at: Timestamp | None = None
    """Default: now."""
    ends_at: Timestamp | None = None
    series: RowId | None = None
    """The coupon's series; none: news only."""
    cost: Points = 0
    """Points the coupon costs (0: free)."""
    active: bool = True

    @model_validator(mode="after")
    def _window(self) -> PromotionIn:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if self.cost and self.series is None:
            raise ValueError("cost needs a series (a coupon to sell)")
        return self


class ClaimIn(Strict):
    customer: CustomerId
    idempotency_key: IdemKey


class WalletRulesIn(Strict):
    birthday_points: Points = 0
    birthday_series: RowId | None = None
    """A coupon issued on the birthday as well as (or instead of) points."""
    birthday_text: LongText = ""
    welcome_text: LongText = ""
    winback_days: Annotated[int, Field(ge=0, le=3650)] = 0
    """Send ``winback_text`` after this many days without a visit (0: off)."""
    winback_text: LongText = ""
    referrer_points: Points = 0
    referee_points: Points = 0


class SharingIn(Strict):
    shareable: bool


class WalletLinkIn(Strict):
    send: bool = True
    """Send the link to the customer (email or SMS, through the notification queue)."""


class RequestIn(Strict):
    phone: PhoneText


class VerifyIn(Strict):
    phone: PhoneText
    otp: Annotated[str, Field(pattern=r"^[0-9]{6}$")]


class BirthdayIn(Strict):
    month: Annotated[int, Field(ge=1, le=12)]
    day: Annotated[int, Field(ge=1, le=31)]


class WalletClaimIn(Strict):
    idempotency_key: IdemKey


class ShareIn(Strict):
    ref: Annotated[str, Field(min_length=1, max_length=80)]


class AcceptIn(Strict):
    share: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{16,64}$")]


class JoinIn(Strict):
    phone: PhoneText
    consent: bool


class ReferralIn(Strict):
    customer: CustomerId
    """The new customer (the referee)."""
    code: Annotated[str, Field(pattern=r"^[A-Za-z0-9]{4,16}$")]
    """The referrer's referral code (from their link or QR)."""
    businesses: Annotated[list[BusinessId], Field(max_length=50)] = []
