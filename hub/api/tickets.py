"""Series, issuing, importing, codes (status, history, delivery) and statistics."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, HTTPException, Path, Query, Response, UploadFile
from sqlalchemy import select

from hub import delivery, importing, issuing, stats
from hub.api.deps import HubContext, context, require
from hub.api.schemas import MAX_INT, IssueIn, SeriesIn, StatusIn
from hub.auth import Principal
from hub.models import Series
from hub.series import (
    MAX_ISSUE_LIMIT,
    SHARED_SERIAL,
    CodeMode,
    SeriesSpec,
    create_series,
    series_dict,
)
from hub.series import get_series as load_series

router = APIRouter(prefix="/api/v1", tags=["tickets"])
SeriesId = Annotated[int, Path(ge=1, le=MAX_INT)]
CodeKey = Annotated[str, Path(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9:_-]+$",
                              description="ticket ref (`7:42`, `h:<hash>`, `shared:9`) or short "
                              "serial (`7-42-3`)")]
ADMIN = require("admin")
STAFF = require("admin", "validator")
SELLERS = require("admin", "register")


@router.post("/series", status_code=201)
def create(body: SeriesIn, ctx: HubContext = Depends(context),
           _: Principal = Depends(ADMIN)) -> dict[str, Any]:
    """Create a series; ``issue_count`` issues that many codes at once (returned as ``codes``)."""
    limit = body.issue_limit
    if limit is None:
        limit = MAX_ISSUE_LIMIT if body.code_mode == CodeMode.IMPORTED else 1000
    spec = SeriesSpec(
        name=body.name, kind=body.kind, code_mode=body.code_mode, issue_limit=limit,
        entries_per_code=body.entries_per_code, valid_from=body.valid_from,
        valid_until=body.valid_until, code_visibility=body.code_visibility,
        entry_rule=body.entry_rule, shared_code=body.shared_code,
    )
    now = ctx.clock.now()
    with ctx.db.write() as s:
        series = create_series(s, spec, now=now)
        issued = []
        if body.issue_count:
            if body.code_mode == CodeMode.IMPORTED:
                raise issuing.IssueError("import codes before issuing from an imported series")
            issued = issuing.issue(s, series.id, count=body.issue_count, now=now)
        out = series_dict(series)
    out["codes"] = [c.to_dict() for c in issued]
    return out


@router.get("/series")
def list_series(ctx: HubContext = Depends(context),
                _: Principal = Depends(STAFF)) -> list[dict[str, Any]]:
    with ctx.db.read() as s:
        return [series_dict(x) for x in s.scalars(select(Series).order_by(Series.id))]


@router.get("/series/{series_id}")
def get_series(series_id: SeriesId, ctx: HubContext = Depends(context),
               _: Principal = Depends(STAFF)) -> dict[str, Any]:
    with ctx.db.read() as s:
        return series_dict(load_series(s, series_id))


@router.post("/series/{series_id}/codes", status_code=201)
def issue(series_id: SeriesId, body: IssueIn, ctx: HubContext = Depends(context),
          _: Principal = Depends(SELLERS)) -> list[dict[str, Any]]:
    """Issue ``count`` codes, or one per customer id; 409 when the series cannot issue more."""
    if body.count is None and not body.customers:
        raise HTTPException(422, [{"loc": ["body", "count"], "msg": "count or customers needed",
                                   "type": "missing"}])
    with ctx.db.write() as s:
        out = issuing.issue(s, series_id, count=body.count, customers=body.customers,
                            now=ctx.clock.now())
    return [c.to_dict() for c in out]


@router.post("/series/{series_id}/import", status_code=201)
def import_codes(
    series_id: SeriesId,
    file: UploadFile = File(..., description="TXT (a code per line), CSV (first column) or XLSX"),
    format: Literal["txt", "csv", "xlsx"] | None = Query(None),
    issue_all: bool = Query(False, description="also issue every imported code at once"),
    ctx: HubContext = Depends(context),
    _: Principal = Depends(ADMIN),
) -> dict[str, Any]:
    """Import codes into an ``imported`` series; the report lists blank lines and duplicates."""
    data = file.file.read(importing.MAX_BYTES + 1)
    now = ctx.clock.now()
    with ctx.db.write() as s:
        report = importing.import_codes(s, series_id, data, now=now, filename=file.filename,
                                        fmt=format)
        if issue_all and report.accepted:
            issuing.issue(s, series_id, count=report.accepted, now=now)
            report.issued_count += report.accepted
    return report.to_dict()


@router.get("/series/{series_id}/stats")
def series_stats(series_id: SeriesId, ctx: HubContext = Depends(context),
                 _: Principal = Depends(STAFF)) -> dict[str, Any]:
    with ctx.db.read() as s:
        return stats.series_stats(s, load_series(s, series_id))


@router.get("/codes/{key}")
def get_code(key: CodeKey, ctx: HubContext = Depends(context),
             who: Principal = Depends(STAFF)) -> dict[str, Any]:
    """A code's status, entries, history and attempts (the code itself for admins, or once
    visible to its holder)."""
    with ctx.db.read() as s:
        code = issuing.find_code(s, key)
        series = load_series(s, code.series_id)
        visible = who.role == "admin" or series.code_visibility == "always" or code.entries_used > 0
        out: dict[str, Any] = {
            "ref": code.ref,
            "series": series.id,
            "serial": None if code.serial == SHARED_SERIAL else code.serial,
            "short_serial": None if code.serial < 0 else delivery.codes.short_serial(
                series.id, code.serial),
            "status": code.status,
            "customer_id": code.customer_id,
            "entries_used": code.entries_used,
            "inside": code.inside,
            "first_used_at": stats._t(code.first_used_at),
            "first_gate": code.first_gate,
            "code": code.code_text if visible else None,
        }
        out.update(stats.code_history(s, code))
    return out


@router.post("/codes/{key}/{action}")
def change_status(
    key: CodeKey,
    action: Literal["revoke", "block", "unblock", "annul"],
    body: StatusIn | None = None,
    ctx: HubContext = Depends(context),
    _: Principal = Depends(ADMIN),
) -> dict[str, Any]:
    """Revoke, block, unblock or annul (cancel) a code; gates are told to refresh at once."""
    with ctx.db.write() as s:
        code = issuing.change_status(s, key, action, now=ctx.clock.now(),
                                     detail=body.detail if body else None)
        out = {"ref": code.ref, "status": code.status}
    if ctx.publish is not None:
        ctx.publish("hub.replica", {"reason": action, "ref": out["ref"]})
    return out


@router.get("/codes/{key}/delivery/{kind}")
def deliver(
    key: CodeKey,
    kind: Literal["qr.png", "qr.svg", "barcode.svg", "sms.txt"],
    ctx: HubContext = Depends(context),
    _: Principal = Depends(SELLERS),
) -> Response:
    """The code rendered for a holder: QR (PNG/SVG), Code 128 barcode (SVG), or SMS text."""
    with ctx.db.write() as s:
        code = issuing.find_code(s, key)
        series = load_series(s, code.series_id)
        text = code.code_text or ""
        serial = max(code.serial, 0)
        if kind == "qr.png":
            out = Response(delivery.qr_png(text), media_type="image/png")
        elif kind == "qr.svg":
            out = Response(delivery.qr_svg(text), media_type="image/svg+xml")
        elif kind == "barcode.svg":
            out = Response(delivery.barcode_svg(delivery.barcode_text(text, series.id, serial)),
                           media_type="image/svg+xml")
        else:
            short = delivery.codes.short_serial(series.id, serial)
            out = Response(delivery.sms_text(series.name, text, short),
                           media_type="text/plain; charset=utf-8")
        issuing.record_delivery(s, code, kind, now=ctx.clock.now())  # only what was rendered
    return out
