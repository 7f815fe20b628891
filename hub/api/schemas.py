"""Request bodies and shared field types of the HTTP API.

Every string has a length limit and an alphabet where it names something (ids, nonces), every
number a range and every time a UTC offset within 1970..2106: bad input is a 422 naming the field,
never a database error.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from hub.auth import ROLES
from hub.series import MAX_ENTRIES, MAX_ISSUE_LIMIT, CodeMode, EntryRule, Kind, Visibility

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
NONCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
MAX_INT = 2**31 - 1


def _utc_in_range(value: datetime) -> datetime:
    try:
        value = value.astimezone(UTC)
        ts = value.timestamp()
    except (OverflowError, ValueError, OSError):
        raise ValueError("time out of range") from None
    if not 0 < ts < 2**32:
        raise ValueError("time must be between 1970 and 2106")
    return value


Timestamp = Annotated[AwareDatetime, AfterValidator(_utc_in_range)]
DeviceId = Annotated[str, Field(pattern=ID_PATTERN, examples=["g1"])]
Nonce = Annotated[
    str, Field(pattern=NONCE_PATTERN, examples=["0192b3c4-1f00-7000-8000-000000000001"])
]
Role = Literal["admin", "operator", "validator", "register", "kiosk", "gate", "beacon", "outlet"]
assert set(ROLES) == set(Role.__args__)  # type: ignore[attr-defined]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SeriesIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: Kind = Kind.TICKET
    code_mode: CodeMode = CodeMode.GENERATED
    issue_limit: Annotated[int, Field(ge=1, le=MAX_ISSUE_LIMIT)] | None = None
    """Default 1000, or no practical limit for ``imported`` (the list itself is the limit)."""
    entries_per_code: Annotated[int, Field(ge=1, le=MAX_ENTRIES)] = 1
    valid_from: Timestamp | None = None
    valid_until: Timestamp | None = None
    code_visibility: Visibility = Visibility.ALWAYS
    entry_rule: EntryRule = EntryRule.SINGLE
    shared_code: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    issue_count: Annotated[int, Field(ge=0, le=100_000)] = 0
    """Codes to issue at once (returned as ``codes``)."""


class IssueIn(Strict):
    count: Annotated[int, Field(ge=1, le=100_000)] | None = None
    customers: Annotated[list[DeviceId], Field(max_length=100_000)] = []
    """Customer ids (not phone numbers: the loyalty side maps phones to ids)."""


class RedemptionIn(Strict):
    code: Annotated[str, Field(min_length=1, max_length=512)]
    gate: DeviceId
    direction: Literal["in", "out"] = "in"
    nonce: Nonce
    scanned_at: Timestamp | None = None
    mode: Literal["redeem", "check"] = "redeem"


class AnnulIn(Strict):
    reason: Annotated[str, Field(max_length=64, pattern=r"^[a-z0-9_]*$")] = "no_passage"


class TokenIn(Strict):
    role: Role
    device: DeviceId
    allow_serial_entry: bool = False


def _printable(value: str) -> str:
    if not value.isprintable():  # also refuses lone surrogates, which no database can store
        raise ValueError("must be printable text")
    return value


Printable = Annotated[str, AfterValidator(_printable)]


class StatusIn(Strict):
    detail: Annotated[Printable, Field(max_length=200)] | None = None


class TicketOut(BaseModel):
    ref: str
    series: int
    serial: int | None
    kind: str
    entries_left: int
    name: str


class RedemptionOut(BaseModel):
    """The answer to a scan (docs/contracts.md); ``detail`` says why in words (for staff)."""

    result: Literal["admit", "reject"]
    reason: str
    offline: bool
    ticket: TicketOut | None
    first_used_at: str | None
    first_gate: str | None
    nonce: str
    redemption_id: int | None
    detail: str
