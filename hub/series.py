"""Series ("clichés"): the rules every ticket or coupon issued from one series shares.

:class:`SeriesSpec` is what an operator asks for; :func:`create_series` checks it and stores it.
The spec is checked here, not only by the HTTP layer, so the CLI and tests get the same errors.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models import Code, CodeEvent, Series
from venue import codes
from venue.errors import CodeError, VenueError
from venue.messages import rfc3339


class Kind(StrEnum):
    TICKET = "ticket"
    COUPON = "coupon"
    CERTIFICATE = "certificate"
    PASS = "pass"


class CodeMode(StrEnum):
    SHARED = "shared"
    GENERATED = "generated"
    IMPORTED = "imported"


class Visibility(StrEnum):
    ALWAYS = "always"
    ON_REDEEM = "on_redeem"


class EntryRule(StrEnum):
    SINGLE = "single"
    """Each entry (``in``) uses one of ``entries_per_code``; exits are not tracked strictly."""
    REENTRY = "reentry"
    """The first entry uses the ticket; after an exit the holder may enter again."""
    ANTIPASSBACK = "antipassback"
    """Strict in/out alternation; every entry uses one of ``entries_per_code``."""


MAX_ISSUE_LIMIT = 2**31 - 1
MAX_ENTRIES = 1_000_000
SHARED_SERIAL = -1
"""The serial of a shared series' own code row, which counts its capacity."""


class SeriesError(VenueError, ValueError):
    """A series spec that cannot be stored; ``field`` names what is wrong."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(VenueError, LookupError):
    """No such series or code."""


@dataclass(frozen=True)
class SeriesSpec:
    """What an operator asks for when creating a series."""

    name: str
    kind: Kind = Kind.TICKET
    code_mode: CodeMode = CodeMode.GENERATED
    issue_limit: int = 1000
    entries_per_code: int = 1
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    code_visibility: Visibility = Visibility.ALWAYS
    entry_rule: EntryRule = EntryRule.SINGLE
    shared_code: str | None = None

    def check(self) -> None:
        """Raise :class:`SeriesError` naming the field that is wrong."""
        if not self.name.strip() or not self.name.isprintable() or len(self.name) > 200:
            raise SeriesError("name must be 1-200 printable characters", "name")
        if not 1 <= self.issue_limit <= MAX_ISSUE_LIMIT:
            raise SeriesError(f"issue_limit must be 1..{MAX_ISSUE_LIMIT}", "issue_limit")
        if not 1 <= self.entries_per_code <= MAX_ENTRIES:
            raise SeriesError(f"entries_per_code must be 1..{MAX_ENTRIES}", "entries_per_code")
        for name in ("valid_from", "valid_until"):
            when = getattr(self, name)
            if when is not None and when.tzinfo is None:
                raise SeriesError(f"{name} needs a UTC offset", name)
            if when is not None and not 0 < when.timestamp() < 2**32:
                raise SeriesError(f"{name} is out of range (1970..2106)", name)
        if self.valid_from and self.valid_until and self.valid_from >= self.valid_until:
            raise SeriesError("valid_until must be after valid_from", "valid_until")
        if self.shared_code is not None:
            if self.code_mode != CodeMode.SHARED:
                raise SeriesError("shared_code is only for code_mode 'shared'", "shared_code")
            try:
                scanned = codes.classify(self.shared_code)
            except CodeError as exc:
                raise SeriesError(f"shared_code: {exc}", "shared_code") from None
            if scanned.kind != codes.CodeKind.OPAQUE or len(scanned.text) > 200:
                raise SeriesError(
                    "shared_code must not look like a generated code or a short serial and be at "
                    "most 200 characters",
                    "shared_code",
                )


def create_series(session: Session, spec: SeriesSpec, *, now: datetime) -> Series:
    """Check ``spec`` and store it; a shared series gets its code row (and a code if none given)."""
    spec.check()
    shared = None
    if spec.code_mode == CodeMode.SHARED:
        shared = codes.normalize_opaque(spec.shared_code or secrets.token_hex(5).upper())
        clash = session.scalar(select(Series.id).where(Series.shared_code == shared).limit(1))
        if clash is not None:
            raise SeriesError(f"shared_code is already used by series {clash}", "shared_code")
    series = Series(
        name=spec.name.strip(),
        kind=str(spec.kind),
        code_mode=str(spec.code_mode),
        code_visibility=str(spec.code_visibility),
        entry_rule=str(spec.entry_rule),
        issue_limit=spec.issue_limit,
        entries_per_code=spec.entries_per_code,
        valid_from=spec.valid_from,
        valid_until=spec.valid_until,
        shared_code=shared,
        active=True,
        issued_count=0,
        imported_count=0,
        created_at=now,
        changed_at=now,
    )
    session.add(series)
    session.flush()
    if shared is not None:
        row = Code(
            series_id=series.id,
            serial=SHARED_SERIAL,
            ref=f"shared:{series.id}",
            code_text=shared,
            status="issued",
            entries_used=0,
            inside=False,
            issued_at=now,
            changed_at=now,
        )
        session.add(row)
        session.flush()
        session.add(CodeEvent(code_id=row.id, status="issued", at=now, detail="shared code"))
    return series


def get_series(session: Session, series_id: int, *, lock: bool = False) -> Series:
    stmt = select(Series).where(Series.id == series_id)
    if lock:
        stmt = stmt.with_for_update()
    series = session.scalar(stmt)
    if series is None:
        raise NotFound(f"no series {series_id}")
    return series


def _t(when: datetime | None) -> str | None:
    return None if when is None else rfc3339(when)


def series_dict(series: Series) -> dict[str, Any]:
    """A series as the API and the replica show it."""
    return {
        "id": series.id,
        "name": series.name,
        "kind": series.kind,
        "code_mode": series.code_mode,
        "issue_limit": series.issue_limit,
        "issued_count": series.issued_count,
        "imported_count": series.imported_count,
        "entries_per_code": series.entries_per_code,
        "valid_from": _t(series.valid_from),
        "valid_until": _t(series.valid_until),
        "code_visibility": series.code_visibility,
        "entry_rule": series.entry_rule,
        "active": series.active,
        "shared_code": series.shared_code,
    }
