"""Loyalty errors, each mapped to one HTTP answer in :mod:`hub.api.app`."""

from __future__ import annotations

from typing import Any

from venue.errors import VenueError


class LoyaltyError(VenueError):
    """Root of the loyalty errors."""

    status = 400


class UnknownCustomer(LoyaltyError, LookupError):
    """No customer with this number, card or id (404 ``unknown customer``)."""

    status = 404


class Conflict(LoyaltyError):
    """A write refused because of the state it met; ``detail`` is the contract's 409 body."""

    status = 409

    def __init__(self, reason: str, message: str = "", **detail: Any) -> None:
        super().__init__(message or reason)
        self.detail = {"reason": reason, **detail}
