"""Request bodies of the loyalty and self-checkout API (strict: unknown keys are refused)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, model_validator

from hub.api.schemas import DeviceId, Printable, Strict, Timestamp

IdemKey = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")]
"""Made once per action by the device (a kiosk's is ``{device}:{what}:{uuid}``)."""
Name = Annotated[Printable, Field(min_length=1, max_length=200)]
BusinessId = Annotated[int, Field(ge=1, le=2**31 - 1)]
RowId = Annotated[int, Field(ge=1, le=2**63 - 1)]
"""A 64-bit row id (a larger number is a 422, not a database overflow)."""
Businesses = Annotated[list[BusinessId], Field(max_length=50)]
PhoneText = Annotated[str, Field(min_length=1, max_length=40)]
CardText = Annotated[str, Field(min_length=1, max_length=100)]
CustomerId = Annotated[str, Field(pattern=r"^c_[0-9a-f]{16}$")]
MEDIA_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,119}$"
MediaName = Annotated[str, Field(pattern=MEDIA_NAME)]
Price = Annotated[Decimal, Field(ge=0, le=Decimal("9999999999.99"), decimal_places=2)]


class BusinessIn(Strict):
    name: Name
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "UAH"


class RulesIn(Strict):
    visit_points: Annotated[int, Field(ge=0, le=1_000_000)] = 0
    visit_cooldown_s: Annotated[int, Field(ge=0, le=365 * 86400)] = 43200
    welcome_bonus: Annotated[int, Field(ge=0, le=1_000_000)] = 0
    welcome_bonus_ttl_s: Annotated[int, Field(ge=1, le=10 * 365 * 86400)] | None = None
    points_per_amount: Annotated[Decimal, Field(ge=0, le=1000, decimal_places=4)] = Decimal(0)
    beacon_min_dwell_s: Annotated[int, Field(ge=0, le=86400)] = 300
    beacon_visits: bool = False


class IdentifyIn(Strict):
    phone: PhoneText | None = None
    card: CardText | None = None
    businesses: Businesses = []

    @model_validator(mode="after")
    def _one(self) -> IdentifyIn:
        if (self.phone is None) == (self.card is None):
            raise ValueError("give exactly one of phone or card")
        return self


class CustomerIn(Strict):
    phone: PhoneText
    consent: bool
    businesses: Businesses = []


class VisitIn(Strict):
    customer: CustomerId
    business: BusinessId
    source: Literal["kiosk", "beacon"] = "kiosk"
    device: DeviceId | None = None
    idempotency_key: IdemKey
    at: Timestamp | None = None


class RewardIn(Strict):
    business: BusinessId
    name: Name
    cost: Annotated[int, Field(ge=1, le=10_000_000)]
    series: RowId
    image: MediaName | None = None


class RedeemIn(Strict):
    customer: CustomerId
    idempotency_key: IdemKey


class CategoryIn(Strict):
    business: BusinessId
    name: Name
    position: Annotated[int, Field(ge=0, le=10_000)] = 0


class ItemIn(Strict):
    business: BusinessId
    category: RowId
    name: Name
    price: Price
    image: MediaName | None = None
    available: bool = True


class ItemPatch(Strict):
    price: Price | None = None
    available: bool | None = None
    name: Name | None = None


class LineIn(Strict):
    item: RowId
    qty: Annotated[int, Field(ge=1, le=1000)]


CouponRef = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9:_-]{0,79}$")]
"""A wallet coupon's ``ref`` (``7:42``) or short serial (``7-42-3``)."""
CouponRefs = Annotated[list[CouponRef], Field(max_length=10)]


class CheckIn(Strict):
    customer: CustomerId | None = None
    business: BusinessId
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=200)]
    idempotency_key: IdemKey
    device: DeviceId | None = None
    coupons: CouponRefs = []
    """Coupons of the customer's wallet to apply (redeemed when the check closes paid)."""


class CloseIn(Strict):
    paid: bool = True
    payment: Literal["other", "prepaid"] = "other"
    """``prepaid``: the amount to pay comes from the customer's prepaid balance."""
    coupons: CouponRefs = []
    """More coupons to apply, shown at the register."""


class CardRevokeIn(Strict):
    card: CardText


class CorrectionIn(Strict):
    business: BusinessId
    customer: CustomerId
    account: Literal["points", "bonus_points"] = "points"
    delta: Annotated[int, Field(ge=-10_000_000, le=10_000_000)]
    note: Annotated[Printable, Field(max_length=80)] = ""
    expires_at: Timestamp | None = None
    """For a bonus grant: when it expires."""
    idempotency_key: IdemKey

    @model_validator(mode="after")
    def _nonzero(self) -> CorrectionIn:
        if self.delta == 0:
            raise ValueError("delta must not be 0")
        return self
