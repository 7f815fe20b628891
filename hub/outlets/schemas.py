"""Request bodies of the outlet, sales-rules and transfer routes (unknown keys are refused)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field, model_validator

from hub.api.loyalty_schemas import CustomerId, IdemKey, Name, PhoneText
from hub.api.schemas import DeviceId, Strict, Timestamp
from hub.outlets.rules import MAX_LIMIT
from hub.outlets.sales import MAX_QTY

SeriesRef = Annotated[int, Field(ge=1, le=2**31 - 1)]
OutletPrice = Annotated[Decimal, Field(ge=0, le=Decimal("99999999.99"), decimal_places=2)]
"""At most 99,999,999.99, so a sale of 100 still fits the money column."""
Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT)]


class OutletIn(Strict):
    id: DeviceId
    """The device id the outlet's API token has (``venue hub token create --role outlet``)."""
    name: Name


class OutletUpdateIn(Strict):
    name: Name | None = None
    active: bool | None = None
    """An inactive outlet cannot sell (404 like an unknown one); its sales and invoices stay."""


class AssignmentIn(Strict):
    quota: Annotated[int, Field(ge=0, le=2**31 - 1)]
    price: OutletPrice
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "UAH"


class SaleIn(Strict):
    series: SeriesRef
    qty: Annotated[int, Field(ge=1, le=MAX_QTY)] = 1
    customer_phone: PhoneText | None = None
    customer: CustomerId | None = None
    idempotency_key: IdemKey
    paid_now: bool = False

    @model_validator(mode="after")
    def _one_customer(self) -> SaleIn:
        if self.customer_phone is not None and self.customer is not None:
            raise ValueError("give customer_phone or customer, not both")
        return self


class CloseIn(Strict):
    idempotency_key: IdemKey
    until: Timestamp | None = None
    """Bill the open items sold up to this time (default: now)."""


class SalesRulesIn(Strict):
    per_order_limit: Limit | None = None
    per_customer_limit: Limit | None = None
    transferable: bool = True
    bound_to_phone: bool = False


class TransferIn(Strict):
    to_phone: PhoneText | None = None
    to_customer: CustomerId | None = None
    from_customer: CustomerId | None = None
    """When given, the transfer is refused (``not_holder``) unless this customer holds it."""
    idempotency_key: IdemKey

    @model_validator(mode="after")
    def _one_recipient(self) -> TransferIn:
        if (self.to_phone is None) == (self.to_customer is None):
            raise ValueError("give exactly one of to_phone or to_customer")
        return self
