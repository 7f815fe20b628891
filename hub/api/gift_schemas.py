"""Request bodies of the gifts API: lottery, gift sets, prepaid, items sold as tickets, coupon
benefits (strict: unknown keys are refused; money is a decimal string, never a float)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, model_validator

from hub.api.loyalty_schemas import BusinessId, CustomerId, IdemKey, Name, RowId
from hub.api.schemas import Printable, Strict

MAX_CODES = 10_000
MONEY_PATTERN = r"^[0-9]{1,10}(\.[0-9]{1,2})?$"


MoneyText = Annotated[str, Field(pattern=MONEY_PATTERN, examples=["150.00"])]
"""A decimal string with at most two decimals (``"150"``, ``"99.90"``); JSON numbers are refused
so that no amount ever passes through a float."""
CodeText = Annotated[str, Field(min_length=1, max_length=200)]


class LotteryIn(Strict):
    business: BusinessId
    name: Name
    text: Annotated[Printable, Field(max_length=500)] = ""


class LotteryPatch(Strict):
    active: bool


class PrizeIn(Strict):
    name: Name
    series: RowId | None = None
    """The coupon series given, or none ("Try again")."""
    weight: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    count: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    """How many there are to give; without a weight the chance follows what is left."""

    @model_validator(mode="after")
    def _some(self) -> PrizeIn:
        if self.weight is None and self.count is None:
            raise ValueError("give a weight, a count, or both")
        return self


class PrizesIn(Strict):
    prizes: Annotated[list[PrizeIn], Field(min_length=1, max_length=200)]


class CodesIn(Strict):
    count: Annotated[int, Field(ge=1, le=MAX_CODES)] | None = None
    codes: Annotated[list[Annotated[str, Field(min_length=1, max_length=100)]],
                     Field(min_length=1, max_length=MAX_CODES)] | None = None

    @model_validator(mode="after")
    def _one(self) -> CodesIn:
        if (self.count is None) == (self.codes is None):
            raise ValueError("give exactly one of count (to generate) or codes (to import)")
        return self


class PlayIn(Strict):
    customer: CustomerId
    code: CodeText
    idempotency_key: IdemKey


class GiftSetIn(Strict):
    business: BusinessId
    name: Name
    series: Annotated[list[RowId], Field(min_length=1, max_length=20)]


class GiftRedeemIn(Strict):
    customer: CustomerId
    code: CodeText
    idempotency_key: IdemKey


class TopupIn(Strict):
    customer: CustomerId
    business: BusinessId
    amount: MoneyText
    idempotency_key: IdemKey

    @model_validator(mode="after")
    def _positive(self) -> TopupIn:
        if Decimal(self.amount) <= 0:
            raise ValueError("amount must be above 0")
        return self


class ItemSeriesIn(Strict):
    series: RowId | None
    """The series one code of which each unit sold issues; ``null`` unbinds."""


class BenefitIn(Strict):
    business: BusinessId
    kind: Literal["amount", "percent", "item"]
    value: MoneyText = "0"
    """The amount off, or the percent off (0-100); unused for ``item``."""
    item: RowId | None = None
    """For ``item``: the catalog item one unit of which the coupon makes free."""

    @model_validator(mode="after")
    def _consistent(self) -> BenefitIn:
        value = Decimal(self.value)
        if self.kind == "item" and self.item is None:
            raise ValueError("an item benefit names its item")
        if self.kind == "percent" and not 0 < value <= 100:
            raise ValueError("a percent is 0 < value <= 100")
        if self.kind == "amount" and value <= 0:
            raise ValueError("an amount is above 0")
        return self
