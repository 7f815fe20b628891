"""Issuing codes from a series, and the life of an issued code (revoke, block, unblock, annul).

Issuing locks the series row, so two operators issuing at once get consecutive serials and
together never pass the issue limit (or, for imported series, the number of imported codes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from hub import keys
from hub.models import Code, CodeEvent, Series
from hub.series import SHARED_SERIAL, CodeMode, NotFound, get_series
from venue import codes
from venue.errors import CodeError, VenueError

MAX_ISSUE_BATCH = 100_000


class IssueError(VenueError, ValueError):
    """Issuing would pass a limit, or a status change is not allowed; the message says which."""


@dataclass(frozen=True)
class IssuedCode:
    """One issued code as returned to the operator (who delivers it)."""

    serial: int
    ref: str
    code: str
    short_serial: str
    customer_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "serial": self.serial,
            "ref": self.ref,
            "code": self.code,
            "short_serial": self.short_serial,
            "customer_id": self.customer_id,
        }


def available(series: Series) -> int:
    """How many more codes this series can issue."""
    cap = series.issue_limit
    if series.code_mode == CodeMode.IMPORTED:
        cap = min(cap, series.imported_count)
    return max(0, cap - series.issued_count)


def issue(
    session: Session,
    series_id: int,
    *,
    count: int | None = None,
    customers: Sequence[str] = (),
    now: datetime,
) -> list[IssuedCode]:
    """Issue ``count`` codes (one per customer when ``customers`` is given).

    Raises:
        IssueError: more codes asked for than the series may still issue.
        NotFound: no such series.
    """
    if customers and count is not None and count != len(customers):
        raise IssueError(f"count {count} differs from the {len(customers)} customers given")
    n = len(customers) if customers else (count or 0)
    if not 1 <= n <= MAX_ISSUE_BATCH:
        raise IssueError(f"count must be 1..{MAX_ISSUE_BATCH}")
    series = get_series(session, series_id, lock=True)
    if not series.active:
        raise IssueError(f"series {series_id} is not active")
    left = available(series)
    if n > left:
        if series.code_mode == CodeMode.IMPORTED:
            raise IssueError(
                f"series {series_id} has {series.imported_count} imported codes (issue limit "
                f"{series.issue_limit}) of which {series.issued_count} are issued: cannot issue "
                f"{n} more, only {left}; import more codes first"
            )
        raise IssueError(
            f"series {series_id} has issued {series.issued_count} of its limit "
            f"{series.issue_limit}: cannot issue {n} more, only {left}"
        )
    holders: list[str | None] = list(customers) if customers else [None] * n
    if series.code_mode == CodeMode.IMPORTED:
        out = _issue_imported(session, series, holders, now)
    else:
        out = _issue_new(session, series, holders, now)
    series.issued_count += n
    series.changed_at = now
    return out


def _issue_new(
    session: Session, series: Series, holders: list[str | None], now: datetime
) -> list[IssuedCode]:
    start = series.issued_count
    if series.code_mode == CodeMode.GENERATED:
        key_id, key = keys.signing_key(session, now=now)
    rows: list[dict[str, Any]] = []
    out: list[IssuedCode] = []
    for i, holder in enumerate(holders):
        serial = start + i
        if series.code_mode == CodeMode.GENERATED:
            text = codes.sign_code(
                key,
                key_id=key_id,
                series_id=series.id,
                serial=serial,
                valid_from=series.valid_from,
                valid_until=series.valid_until,
            )
            kid: int | None = key_id
        else:  # shared: each holder's copy is the series' one code
            text, kid = series.shared_code or "", None
        ref = codes.ticket_ref(series.id, serial)
        rows.append(
            dict(series_id=series.id, serial=serial, ref=ref, code_text=text, key_id=kid,
                 customer_id=holder, status="issued", entries_used=0, inside=False,
                 issued_at=now, changed_at=now)
        )
        out.append(IssuedCode(serial, ref, text, codes.short_serial(series.id, serial), holder))
    for chunk in range(0, len(rows), 5000):
        session.execute(insert(Code), rows[chunk : chunk + 5000])
    return out


def _issue_imported(
    session: Session, series: Series, holders: list[str | None], now: datetime
) -> list[IssuedCode]:
    pending = list(
        session.scalars(
            select(Code)
            .where(Code.series_id == series.id, Code.status == "imported")
            .order_by(Code.serial)
            .limit(len(holders))
        )
    )
    if len(pending) < len(holders):  # counters and rows disagree: refuse rather than guess
        raise IssueError(f"series {series.id} has only {len(pending)} imported codes left")
    out = []
    for row, holder in zip(pending, holders, strict=True):
        row.status = "issued"
        row.customer_id = holder
        row.issued_at = now
        row.changed_at = now
        out.append(
            IssuedCode(row.serial, row.ref, row.code_text or "",
                       codes.short_serial(series.id, row.serial), holder)
        )
    return out


# --- finding codes and changing their status --------------------------------------------------


def find_code(session: Session, key: str, *, lock: bool = False) -> Code:
    """A code by its ref (``7:42``, ``shared:9``, ``h:<hash>``) or its short serial (``7-42-3``).

    Raises:
        NotFound: no such code (or a short serial with a wrong check digit).
    """
    ref = key.strip()
    if not ref.startswith(("h:", "shared:")) and ":" not in ref:
        try:
            short = codes.parse_short_serial(ref)
        except CodeError as exc:
            raise NotFound(str(exc)) from None
        if short is None:
            raise NotFound(f"{key!r} is neither a ticket reference nor a short serial")
        ref = short.ref
    stmt = select(Code).where(Code.ref == ref)
    if lock:
        stmt = stmt.with_for_update()
    row = session.scalar(stmt)
    if row is None or row.status == "imported":
        raise NotFound(f"no issued code {ref}")
    return row


# What each operator action does: allowed from-states and the new status.
_ACTIONS: dict[str, tuple[frozenset[str], str]] = {
    "revoke": (frozenset({"issued", "blocked"}), "revoked"),
    "block": (frozenset({"issued"}), "blocked"),
    "unblock": (frozenset({"blocked"}), "issued"),
    "annul": (frozenset({"issued", "blocked"}), "annulled"),
}
ACTIONS = tuple(_ACTIONS)


def change_status(
    session: Session, key: str, action: str, *, now: datetime, detail: str | None = None
) -> Code:
    """Revoke, block, unblock or annul (cancel) an issued code, recording it in its history."""
    if action not in _ACTIONS:
        raise IssueError(f"unknown action {action!r}; one of {', '.join(_ACTIONS)}")
    row = find_code(session, key, lock=True)
    if row.serial == SHARED_SERIAL and action != "block" and action != "unblock":
        raise IssueError("a shared code can only be blocked or unblocked")
    allowed, new = _ACTIONS[action]
    if row.status == new:
        return row
    if row.status not in allowed:
        raise IssueError(f"cannot {action} code {row.ref}: it is {row.status}")
    row.status = new
    row.changed_at = now
    session.add(CodeEvent(code_id=row.id, status=new, at=now, detail=(detail or action)[:200]))
    return row


def record_delivery(session: Session, row: Code, channel: str, *, now: datetime) -> None:
    """Note in a code's history that it was handed out (QR image, barcode, text)."""
    session.add(CodeEvent(code_id=row.id, status="delivered", at=now, detail=channel[:200]))


__all__ = ["ACTIONS", "IssueError", "IssuedCode", "NotFound", "available", "change_status",
           "find_code", "issue", "record_delivery"]
