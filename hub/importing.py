"""Importing an operator's list of codes (TXT, CSV, XLSX) into an ``imported`` series.

Parsing is pure (bytes → lines of codes plus what was wrong with the others), storing is separate.
The report names every blank line, every duplicate (with the line it repeats) and every line that
cannot be a code, so the operator can fix the list at its source.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from hub import keys
from hub.issuing import IssueError
from hub.models import Code
from hub.series import CodeMode, get_series
from venue import codes
from venue.errors import CodeError, VenueError

MAX_BYTES = 32 * 1024 * 1024
MAX_CODES = 1_000_000
MAX_CODE_LEN = 200
FORMATS = ("txt", "csv", "xlsx")


class ImportFormatError(VenueError, ValueError):
    """The upload is not a readable TXT, CSV or XLSX file."""


@dataclass
class ImportReport:
    """What an import did; line numbers are 1-based rows of the file."""

    format: str = ""
    lines: int = 0
    accepted: int = 0
    blank_lines: list[int] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    """``{"line", "first_line"}`` for repeats within the file, ``{"line", "series"}`` for codes
    already imported (into this or another series)."""
    rejected: list[dict[str, Any]] = field(default_factory=list)
    header: bool = False
    imported_count: int = 0
    issued_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "lines": self.lines,
            "accepted": self.accepted,
            "blank_lines": self.blank_lines,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "header": self.header,
            "imported_count": self.imported_count,
            "issued_count": self.issued_count,
        }


def detect_format(data: bytes, filename: str | None = None) -> str:
    """``xlsx`` for a zip (an Excel workbook), else by file name, else ``txt``."""
    if data[:4] == b"PK\x03\x04":
        return "xlsx"
    name = (filename or "").lower()
    if name.endswith(".csv"):
        return "csv"
    return "txt"


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFormatError("the file is not UTF-8 text") from None


def _rows(data: bytes, fmt: str) -> list[str | None]:
    """The first cell of every row (``None`` for a blank row), in file order."""
    if fmt == "txt":
        return [line.strip() or None for line in _text(data).splitlines()]
    if fmt == "csv":
        text = _text(data)
        try:
            dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel  # type: ignore[assignment]
        out: list[str | None] = []
        try:
            for row in csv.reader(io.StringIO(text), dialect):
                cells = [c.strip() for c in row]
                out.append(cells[0] if cells and cells[0] else None)
        except csv.Error as exc:
            raise ImportFormatError(f"CSV cannot be read: {exc}") from None
        return out
    if fmt == "xlsx":
        import openpyxl

        try:
            wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
            raise ImportFormatError(f"XLSX cannot be read: {exc.__class__.__name__}") from None
        try:
            sheet = wb.worksheets[0] if wb.worksheets else None
            if sheet is None:
                return []
            rows: list[str | None] = []
            for values in sheet.iter_rows(max_col=1, values_only=True):
                rows.append(_cell(values[0] if values else None))
            return rows
        finally:
            wb.close()
    raise ImportFormatError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")


def _cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def parse_codes(
    data: bytes, *, filename: str | None = None, fmt: str | None = None
) -> tuple[list[tuple[int, str]], ImportReport]:
    """Read codes from a file: ``[(line, code)]`` in order, unique, plus the report so far."""
    if len(data) > MAX_BYTES:
        raise ImportFormatError(f"file is larger than {MAX_BYTES // (1024 * 1024)} MiB")
    fmt = fmt or detect_format(data, filename)
    report = ImportReport(format=fmt)
    rows = _rows(data, fmt)
    # A trailing newline is not a blank line; trailing empty rows of a sheet are not either.
    while rows and rows[-1] is None and fmt == "xlsx":
        rows.pop()
    report.lines = len(rows)
    seen: dict[str, int] = {}
    out: list[tuple[int, str]] = []
    for i, cell in enumerate(rows, start=1):
        if cell is None:
            report.blank_lines.append(i)
            continue
        if i == 1 and cell.lower() in ("code", "codes", "ticket", "barcode"):
            report.header = True
            continue
        why = _bad_code(cell)
        if why:
            report.rejected.append({"line": i, "reason": why})
            continue
        code = codes.normalize_opaque(cell)
        if code in seen:
            report.duplicates.append({"line": i, "first_line": seen[code]})
            continue
        seen[code] = i
        out.append((i, code))
    if len(out) > MAX_CODES:
        raise ImportFormatError(f"more than {MAX_CODES} codes in one file")
    return out, report


def _bad_code(text: str) -> str:
    if len(text) > MAX_CODE_LEN:
        return f"longer than {MAX_CODE_LEN} characters"
    try:
        kind = codes.classify(text).kind
    except CodeError as exc:
        return str(exc)
    if kind != codes.CodeKind.OPAQUE:
        return "looks like a generated code or a short serial"
    return ""


def import_codes(
    session: Session, series_id: int, data: bytes, *, now: datetime,
    filename: str | None = None, fmt: str | None = None,
) -> ImportReport:
    """Parse ``data`` and add its codes to an ``imported`` series (status ``imported``).

    Raises:
        ImportFormatError: the file cannot be read.
        IssueError: not an imported series, or more codes than its issue limit.
    """
    items, report = parse_codes(data, filename=filename, fmt=fmt)
    series = get_series(session, series_id, lock=True)
    if series.code_mode != CodeMode.IMPORTED:
        raise IssueError(f"series {series_id} is {series.code_mode}, not imported")
    salt = keys.hash_salt(session)
    hashed = [(line, code, codes.imported_hash(salt, code)) for line, code in items]
    known: dict[str, int] = {}
    all_hashes = [h for _, _, h in hashed]
    for start in range(0, len(all_hashes), 1000):
        chunk = all_hashes[start : start + 1000]
        for h, sid in session.execute(
            select(Code.code_hash, Code.series_id).where(Code.code_hash.in_(chunk))
        ):
            if h is not None:
                known[h] = sid
    fresh = []
    for line, code, h in hashed:
        if h in known:
            report.duplicates.append({"line": line, "series": known[h]})
        else:
            fresh.append((code, h))
    report.duplicates.sort(key=lambda d: d["line"])
    if series.imported_count + len(fresh) > series.issue_limit:
        raise IssueError(
            f"series {series_id} may hold {series.issue_limit} codes and has "
            f"{series.imported_count}: {len(fresh)} more do not fit"
        )
    start_serial = series.imported_count
    rows = [
        dict(series_id=series.id, serial=start_serial + i, ref=f"h:{h}", code_text=code,
             code_hash=h, status="imported", entries_used=0, inside=False, changed_at=now)
        for i, (code, h) in enumerate(fresh)
    ]
    for start in range(0, len(rows), 5000):
        session.execute(insert(Code), rows[start : start + 5000])
    series.imported_count += len(fresh)
    series.changed_at = now
    report.accepted = len(fresh)
    report.imported_count = series.imported_count
    report.issued_count = series.issued_count
    return report
