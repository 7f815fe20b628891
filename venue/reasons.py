"""The closed lists of results and reason codes shared by gate, hub and kiosk.

Human text and translations live apart (see :data:`REASON_TEXT`); code compares enum members.
"""

from __future__ import annotations

from enum import StrEnum


class Result(StrEnum):
    """What a redemption decided."""

    ADMIT = "admit"
    REJECT = "reject"


class Reason(StrEnum):
    """Why a redemption was decided as it was (``ok`` for an admission)."""

    OK = "ok"
    INVALID = "invalid"
    UNKNOWN_SERIES = "unknown_series"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    REVOKED = "revoked"
    BLOCKED = "blocked"
    ALREADY_USED = "already_used"
    WRONG_DIRECTION = "wrong_direction"
    CAPACITY = "capacity"
    ERROR = "error"


REASON_TEXT: dict[Reason, str] = {
    Reason.OK: "Welcome",
    Reason.INVALID: "Not a valid ticket",
    Reason.UNKNOWN_SERIES: "Ticket is not for this venue",
    Reason.NOT_YET_VALID: "Ticket is not valid yet",
    Reason.EXPIRED: "Ticket has expired",
    Reason.REVOKED: "Ticket was revoked",
    Reason.BLOCKED: "Ticket is blocked",
    Reason.ALREADY_USED: "Ticket was already used",
    Reason.WRONG_DIRECTION: "Wrong direction",
    Reason.CAPACITY: "Venue is full",
    Reason.ERROR: "Please see staff",
}
