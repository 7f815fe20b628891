"""Sales outlets (their own sales, quotas, invoices), series sales rules, and ticket transfers.

Every ``/outlet/...`` route works on the calling token's outlet only (its device id): there is no
outlet id in those URLs to change, and a sale or invoice id of another outlet is a 404.
Operators (admin, operator) see every outlet under ``/outlets/{outlet_id}/...``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub import delivery, issuing
from hub.api.deps import HubContext, context, require
from hub.api.loyalty import secret
from hub.api.schemas import ID_PATTERN
from hub.auth import Principal
from hub.loyalty import identity
from hub.loyalty.errors import UnknownCustomer
from hub.outlets import cancel, invoices, sales, transfers
from hub.outlets.models import Outlet
from hub.outlets.rules import SalesRules, get_rules, set_rules
from hub.outlets.schemas import (
    AssignmentIn,
    CloseIn,
    OutletIn,
    OutletUpdateIn,
    SaleIn,
    SalesRulesIn,
    TransferIn,
)
from hub.series import NotFound
from venue import phone
from venue.errors import PhoneNumberError

router = APIRouter(prefix="/api/v1", tags=["outlets"])
ADMIN = require("admin")
OPERATORS = require("admin", "operator")
OUTLET = require("outlet")
RULE_READERS = require("admin", "operator", "register", "kiosk", "outlet")
TRANSFERRERS = require("admin", "operator", "register")

OutletId = Annotated[str, Path(pattern=ID_PATTERN)]
SeriesId = Annotated[int, Path(ge=1, le=2**31 - 1)]
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]
TicketKey = Annotated[str, Path(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9:_-]+$",
                                description="ticket ref (`7:42`) or short serial (`7-42-3`)")]
PageSize = Annotated[int, Query(ge=1, le=500)]
Before = Annotated[int | None, Query(ge=1, le=2**63 - 1)]
DocFormat = Literal["invoice.csv", "invoice.pdf"]
T = TypeVar("T")


def _retrying(fn: Callable[[], T], attempts: int = 3) -> T:
    """Run a write again when a concurrent twin won a unique constraint (same idempotency key,
    same new phone number): the retry then finds the twin's row."""
    for i in range(attempts):
        try:
            return fn()
        except IntegrityError:
            if i == attempts - 1:
                raise
    raise AssertionError("unreachable")


def _e164(raw: str, field: str) -> str:
    try:
        return phone.normalize(raw)
    except PhoneNumberError as exc:
        raise HTTPException(422, [{"loc": ["body", field], "msg": str(exc),
                                   "type": "value_error.phone"}]) from None


# --- outlets and their series (operators) -------------------------------------------------------


@router.post("/outlets", status_code=201)
def post_outlet(body: OutletIn, ctx: HubContext = Depends(context),
                _: Principal = Depends(ADMIN)) -> dict[str, Any]:
    """Add an outlet; give it a token with role ``outlet`` and device = this id."""
    with ctx.db.write() as s:
        return sales.outlet_dict(sales.create_outlet(s, body.id, body.name, now=ctx.clock.now()))


def _outlet_summary(s: Session, outlet_id: str) -> dict[str, Any]:
    out = sales.outlet_dict(sales.get_outlet(s, outlet_id))
    out["series"] = [sales.assignment_dict(a) for a in sales.assignments(s, outlet_id)]
    items = invoices.open_items(s, outlet_id)
    out["open_items"] = len(items)
    out["open_totals"] = {k: sales.money(v) for k, v in invoices.totals(items).items()}
    return out


@router.get("/outlets")
def list_outlets(ctx: HubContext = Depends(context),
                 _: Principal = Depends(OPERATORS)) -> list[dict[str, Any]]:
    """Every outlet with its series (quota, sold, price) and its open items' totals."""
    with ctx.db.read() as s:
        ids = list(s.scalars(select(Outlet.id).order_by(Outlet.id)))
        return [_outlet_summary(s, i) for i in ids]


@router.get("/outlets/{outlet_id}")
def get_outlet(outlet_id: OutletId, ctx: HubContext = Depends(context),
               _: Principal = Depends(OPERATORS)) -> dict[str, Any]:
    with ctx.db.read() as s:
        return _outlet_summary(s, outlet_id)


@router.patch("/outlets/{outlet_id}")
def patch_outlet(outlet_id: OutletId, body: OutletUpdateIn, ctx: HubContext = Depends(context),
                 _: Principal = Depends(ADMIN)) -> dict[str, Any]:
    """Rename an outlet, or stop (``active: false``) and resume its selling."""
    with ctx.db.write() as s:
        return sales.outlet_dict(sales.update_outlet(s, outlet_id, name=body.name,
                                                     active=body.active))


@router.put("/outlets/{outlet_id}/series/{series_id}")
def put_assignment(outlet_id: OutletId, series_id: SeriesId, body: AssignmentIn,
                   ctx: HubContext = Depends(context),
                   _: Principal = Depends(ADMIN)) -> dict[str, Any]:
    """Let the outlet sell the series: its quota and its price per ticket (owed to the venue)."""
    with ctx.db.write() as s:
        row = sales.assign(s, outlet_id, series_id, quota=body.quota, price=body.price,
                           currency=body.currency, now=ctx.clock.now())
        return sales.assignment_dict(row)


@router.get("/outlets/{outlet_id}/sales")
def operator_sales(outlet_id: OutletId, limit: PageSize = 100, before: Before = None,
                   ctx: HubContext = Depends(context),
                   _: Principal = Depends(OPERATORS)) -> list[dict[str, Any]]:
    with ctx.db.read() as s:
        sales.get_outlet(s, outlet_id)
        return [sales.sale_dict(s, x) for x in sales.outlet_sales(s, outlet_id, limit=limit,
                                                                    before=before)]


@router.get("/outlets/{outlet_id}/open-items")
def open_items(outlet_id: OutletId, ctx: HubContext = Depends(context),
               _: Principal = Depends(OPERATORS)) -> dict[str, Any]:
    """The outlet's sales not paid at once and not yet invoiced, with their totals."""
    with ctx.db.read() as s:
        sales.get_outlet(s, outlet_id)
        items = invoices.open_items(s, outlet_id)
        return {"outlet": outlet_id, "count": len(items),
                "totals": {k: sales.money(v) for k, v in invoices.totals(items).items()},
                "items": [sales.sale_dict(s, x) for x in items]}


@router.post("/outlets/{outlet_id}/invoices", status_code=201)
def close_period(outlet_id: OutletId, body: CloseIn, response: Response,
                 ctx: HubContext = Depends(context),
                 who: Principal = Depends(OPERATORS)) -> dict[str, Any]:
    """Close a period: every open item sold up to ``until`` on one collective invoice.

    201 with the new invoice; 200 with the same invoice for a repeated idempotency key; 409
    ``nothing_to_invoice`` when there are no open items.
    """
    now = ctx.clock.now()
    until = body.until or now

    def run() -> tuple[dict[str, Any], bool]:
        with ctx.db.write() as s:
            inv, new = invoices.close_period(s, outlet_id, key=body.idempotency_key, until=until,
                                             by=f"{who.role}:{who.device}", now=now)
            return invoices.invoice_dict(inv), new

    out, new = _retrying(run)
    if not new:
        response.status_code = 200
    return out


def _invoice_json(s: Session, outlet_id: str, invoice_id: int) -> dict[str, Any]:
    doc = invoices.invoice_doc(s, invoices.get_invoice(s, outlet_id, invoice_id))
    return {**doc.invoice, "outlet_name": doc.outlet_name, "lines": doc.lines}


def _invoice_file(s: Session, outlet_id: str, invoice_id: int, fmt: DocFormat) -> Response:
    doc = invoices.invoice_doc(s, invoices.get_invoice(s, outlet_id, invoice_id))
    name = doc.invoice["number"]
    if fmt == "invoice.csv":
        return Response(invoices.invoice_csv(doc), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    return Response(invoices.invoice_pdf(doc), media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'})


@router.get("/outlets/{outlet_id}/invoices")
def operator_invoices(outlet_id: OutletId, ctx: HubContext = Depends(context),
                      _: Principal = Depends(OPERATORS)) -> list[dict[str, Any]]:
    with ctx.db.read() as s:
        sales.get_outlet(s, outlet_id)
        return [invoices.invoice_dict(i) for i in invoices.outlet_invoices(s, outlet_id)]


@router.get("/outlets/{outlet_id}/invoices/{invoice_id}")
def operator_invoice(outlet_id: OutletId, invoice_id: RowId, ctx: HubContext = Depends(context),
                     _: Principal = Depends(OPERATORS)) -> dict[str, Any]:
    with ctx.db.read() as s:
        return _invoice_json(s, outlet_id, invoice_id)


@router.get("/outlets/{outlet_id}/invoices/{invoice_id}/{fmt}")
def operator_invoice_file(outlet_id: OutletId, invoice_id: RowId, fmt: DocFormat,
                          ctx: HubContext = Depends(context),
                          _: Principal = Depends(OPERATORS)) -> Response:
    """The invoice as CSV (a line per sale and a total line) or PDF."""
    with ctx.db.read() as s:
        return _invoice_file(s, outlet_id, invoice_id, fmt)


# --- the outlet's own routes ----------------------------------------------------------------------


@router.get("/outlet/series")
def my_series(ctx: HubContext = Depends(context),
              who: Principal = Depends(OUTLET)) -> list[dict[str, Any]]:
    """The series this outlet may sell, with quota, sold, left and price."""
    with ctx.db.read() as s:
        return [sales.assignment_dict(a) for a in sales.assignments(s, who.device)]


@router.post("/outlet/sales", status_code=201)
def post_sale(body: SaleIn, response: Response, ctx: HubContext = Depends(context),
              who: Principal = Depends(OUTLET)) -> dict[str, Any]:
    """Sell tickets of an assigned series: codes issued (to the customer's wallet when a phone
    or customer id is given) and an open item at the assignment's price (none when
    ``paid_now``). 201 new, 200 for a repeated idempotency key (the same codes); 409 with a
    ``reason``: ``quota_exceeded``, ``per_order_limit``, ``per_customer_limit``,
    ``customer_required``, ``series_sold_out``, ``idempotency_key_reused``; 404 for a series not
    assigned."""
    e164 = None if body.customer_phone is None else _e164(body.customer_phone, "customer_phone")
    now = ctx.clock.now()
    sec = secret(ctx) if e164 is not None else None

    def run() -> tuple[dict[str, Any], bool]:
        with ctx.db.write() as s:
            customer = body.customer
            if e164 is not None and sec is not None:
                known = sales.find_sale(s, who.device, body.idempotency_key)
                if known is not None:  # a retry: the same number must name the same customer
                    found = identity.by_phone(s, sec, e164)
                    customer = None if found is None else found.id
                else:
                    customer = identity.register(s, sec, e164, device=who.device, now=now)[0].id
            req = sales.SaleRequest(outlet_id=who.device, series_id=body.series, qty=body.qty,
                                    idempotency_key=body.idempotency_key,
                                    paid_now=body.paid_now, customer_id=customer)
            sale, new = sales.sell(s, req, now=now)
            return sales.sale_dict(s, sale, with_codes=True), new

    out, new = _retrying(run)
    if not new:
        response.status_code = 200
    return out


@router.get("/outlet/sales")
def my_sales(limit: PageSize = 100, before: Before = None, ctx: HubContext = Depends(context),
             who: Principal = Depends(OUTLET)) -> list[dict[str, Any]]:
    """This outlet's sales, newest first (``before``: the last id of the previous page)."""
    with ctx.db.read() as s:
        return [sales.sale_dict(s, x) for x in sales.outlet_sales(s, who.device, limit=limit,
                                                                    before=before)]


@router.get("/outlet/sales/{sale_id}")
def my_sale(sale_id: RowId, ctx: HubContext = Depends(context),
            who: Principal = Depends(OUTLET)) -> dict[str, Any]:
    """One of this outlet's sales with its codes; another outlet's sale is a 404."""
    with ctx.db.read() as s:
        return sales.sale_dict(s, sales.get_sale(s, who.device, sale_id), with_codes=True)


def _cancel(ctx: HubContext, who: Principal, outlet_id: str, sale_id: int,
            response: Response) -> dict[str, Any]:
    with ctx.db.write() as s:
        sale = sales.get_sale(s, outlet_id, sale_id)
        _, new = cancel.cancel_sale(s, sale, by_role=who.role, by_device=who.device,
                                    now=ctx.clock.now())
        out = sales.sale_dict(s, sale)
    if new and ctx.publish is not None:
        ctx.publish("hub.replica", {"reason": "revoke", "ref": out["refs"][0]})
    if not new:
        response.status_code = 200
    return out


@router.post("/outlet/sales/{sale_id}/cancel", status_code=201)
def cancel_my_sale(sale_id: RowId, response: Response, ctx: HubContext = Depends(context),
                   who: Principal = Depends(OUTLET)) -> dict[str, Any]:
    """Take back one of this outlet's sales before it is invoiced: its codes are revoked (gates
    refuse them), the quota is given back, and it is no open item. 201, or 200 when it was
    cancelled already; 409 ``already_invoiced``, ``tickets_used``, ``tickets_not_live``."""
    return _cancel(ctx, who, who.device, sale_id, response)


@router.post("/outlets/{outlet_id}/sales/{sale_id}/cancel", status_code=201)
def cancel_sale(outlet_id: OutletId, sale_id: RowId, response: Response,
                ctx: HubContext = Depends(context),
                who: Principal = Depends(OPERATORS)) -> dict[str, Any]:
    """An operator cancels an outlet's sale (as the outlet may)."""
    return _cancel(ctx, who, outlet_id, sale_id, response)


@router.get("/outlet/sales/{sale_id}/codes/{ref}/{kind}")
def my_ticket(sale_id: RowId, ref: TicketKey, kind: Literal["qr.png", "qr.svg"],
              ctx: HubContext = Depends(context), who: Principal = Depends(OUTLET)) -> Response:
    """A ticket of this outlet's sale as a QR image, to hand to the buyer (recorded as
    delivered); a ticket of another sale or outlet is a 404."""
    with ctx.db.write() as s:
        sale = sales.get_sale(s, who.device, sale_id)
        if ref not in sale.refs:
            raise NotFound(f"no ticket {ref} in sale {sale_id}")
        code = issuing.find_code(s, ref)
        text = code.code_text or ""
        issuing.record_delivery(s, code, f"outlet {who.device}: {kind}", now=ctx.clock.now())
    if kind == "qr.png":
        return Response(delivery.qr_png(text), media_type="image/png")
    return Response(delivery.qr_svg(text), media_type="image/svg+xml")


@router.get("/outlet/invoices")
def my_invoices(ctx: HubContext = Depends(context),
                who: Principal = Depends(OUTLET)) -> list[dict[str, Any]]:
    with ctx.db.read() as s:
        return [invoices.invoice_dict(i) for i in invoices.outlet_invoices(s, who.device)]


@router.get("/outlet/invoices/{invoice_id}/{fmt}")
def my_invoice_file(invoice_id: RowId, fmt: DocFormat, ctx: HubContext = Depends(context),
                    who: Principal = Depends(OUTLET)) -> Response:
    with ctx.db.read() as s:
        return _invoice_file(s, who.device, invoice_id, fmt)


# --- series sales rules -------------------------------------------------------------------------


@router.get("/series/{series_id}/sales-rules")
def get_sales_rules(series_id: SeriesId, ctx: HubContext = Depends(context),
                    _: Principal = Depends(RULE_READERS)) -> dict[str, Any]:
    with ctx.db.read() as s:
        return {"series": series_id, **get_rules(s, series_id).to_dict()}


@router.put("/series/{series_id}/sales-rules")
def put_sales_rules(series_id: SeriesId, body: SalesRulesIn, ctx: HubContext = Depends(context),
                    _: Principal = Depends(ADMIN)) -> dict[str, Any]:
    """Limits per order and per customer, transfers allowed or not, tickets bound to a phone."""
    rules = SalesRules(body.per_order_limit, body.per_customer_limit, body.transferable,
                       body.bound_to_phone)
    with ctx.db.write() as s:
        return {"series": series_id, **set_rules(s, series_id, rules, now=ctx.clock.now())
                .to_dict()}


# --- transfers ----------------------------------------------------------------------------------


@router.post("/tickets/{key}/transfer", status_code=201)
def post_transfer(key: TicketKey, body: TransferIn, response: Response,
                  ctx: HubContext = Depends(context),
                  who: Principal = Depends(TRANSFERRERS)) -> dict[str, Any]:
    """Move a ticket to another customer: a new code for them, the old one revoked.

    409 ``transfer_forbidden`` when the series forbids it (other reasons: ``ticket_used``,
    ``ticket_not_issued``, ``no_holder``, ``not_holder``, ``same_holder``, ``shared_code``,
    ``per_customer_limit``, ``no_serial_left``); 404 for an unknown ticket or recipient (the
    recipient must be a customer already). 200 with the same transfer for a repeated
    idempotency key.
    """
    now = ctx.clock.now()
    e164 = None if body.to_phone is None else _e164(body.to_phone, "to_phone")
    sec = secret(ctx) if e164 is not None else None

    def run() -> tuple[dict[str, Any], bool]:
        with ctx.db.write() as s:
            to = body.to_customer
            if e164 is not None and sec is not None:
                found = identity.by_phone(s, sec, e164)
                if found is None:
                    raise UnknownCustomer("recipient")
                to = found.id
            assert to is not None
            res = transfers.transfer_ticket(
                s, key, to_customer=to, idempotency_key=body.idempotency_key, by_role=who.role,
                by_device=who.device, now=now, claimed_holder=body.from_customer)
            return transfers.result_dict(res), res.new

    out, new = _retrying(run)
    if new and ctx.publish is not None:
        ctx.publish("hub.replica", {"reason": "transfer", "ref": out["old_ref"]})
    if not new:
        response.status_code = 200
    return out


@router.get("/transfers")
def list_transfers(series: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
                   customer: Annotated[str | None, Query(pattern=r"^c_[0-9a-f]{16}$")] = None,
                   limit: PageSize = 100, before: Before = None,
                   ctx: HubContext = Depends(context),
                   _: Principal = Depends(OPERATORS)) -> list[dict[str, Any]]:
    """Every transfer, newest first; by series or by a customer on either side."""
    with ctx.db.read() as s:
        return [transfers.transfer_dict(t) for t in transfers.list_transfers(
            s, series_id=series, customer=customer, limit=limit, before=before)]
