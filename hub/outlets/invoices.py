"""Open items of an outlet and the collective invoice that closes a period.

Closing locks the outlet's row, so two closes of one outlet run one after the other; the
invoice's items are inserted with a unique ``sale_id``, so no sale can ever be billed twice, and
the invoice is keyed by ``(outlet, idempotency_key)``, so closing twice with one key makes one
invoice. The invoice's total is computed from the very rows it bills (the test checks it equals
the sum of the open items it took). Sales paid at once are never open items.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.outlets.errors import refusal
from hub.outlets.models import (
    OutletInvoice,
    OutletInvoiceItem,
    OutletSale,
    OutletSaleCancellation,
)
from hub.outlets.sales import get_outlet, money
from hub.series import NotFound
from venue.messages import rfc3339

_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
DEFAULT_FONT: str | None = str(_FONT) if _FONT.exists() else None
"""A Unicode TrueType font for names in any script; without one, the PDF uses Helvetica."""


MAX_TOTAL = Decimal("9999999999.99")
"""What the money column holds."""


def open_items(session: Session, outlet_id: str, *,
               until: datetime | None = None) -> list[OutletSale]:
    """The outlet's sales neither paid at once, nor on an invoice, nor cancelled; oldest first."""
    billed = select(OutletInvoiceItem.sale_id)
    cancelled = select(OutletSaleCancellation.sale_id)
    stmt = select(OutletSale).where(OutletSale.outlet_id == outlet_id,
                                    OutletSale.paid_now.is_(False),
                                    OutletSale.id.not_in(billed),
                                    OutletSale.id.not_in(cancelled))
    if until is not None:
        stmt = stmt.where(OutletSale.created_at <= until)
    return list(session.scalars(stmt.order_by(OutletSale.id)))


def totals(items: list[OutletSale]) -> dict[str, Decimal]:
    """Sum per currency."""
    out: dict[str, Decimal] = {}
    for it in items:
        out[it.currency] = out.get(it.currency, Decimal(0)) + it.amount
    return out


def close_period(
    session: Session, outlet_id: str, *, key: str, until: datetime, by: str, now: datetime,
) -> tuple[OutletInvoice, bool]:
    """Bill every open item sold up to ``until`` on one invoice: ``(invoice, new)``.

    Raises:
        NotFound: no such outlet.
        Conflict: ``nothing_to_invoice`` (no open items up to ``until``) or
            ``mixed_currencies`` (open items in more than one currency; one invoice has one).
    """
    get_outlet(session, outlet_id, lock=True)
    known = session.scalar(select(OutletInvoice).where(OutletInvoice.outlet_id == outlet_id,
                                                       OutletInvoice.idempotency_key == key))
    if known is not None:
        return known, False
    items = open_items(session, outlet_id, until=until)
    if not items:
        raise refusal("nothing_to_invoice", f"outlet {outlet_id} has no open items to invoice")
    sums = totals(items)
    if len(sums) != 1:
        raise refusal("mixed_currencies",
                       f"open items are in {', '.join(sorted(sums))}: one currency per invoice")
    ((currency, total),) = sums.items()
    if total > MAX_TOTAL:
        raise refusal("invoice_too_large", "the open items exceed one invoice's amount; close "
                       "the period with an earlier 'until'")
    inv = OutletInvoice(outlet_id=outlet_id, idempotency_key=key, until=until, total=total,
                        currency=currency, item_count=len(items), created_at=now, created_by=by)
    session.add(inv)
    session.flush()
    session.add_all(OutletInvoiceItem(invoice_id=inv.id, sale_id=it.id, amount=it.amount)
                    for it in items)
    session.flush()
    return inv, True


def get_invoice(session: Session, outlet_id: str, invoice_id: int) -> OutletInvoice:
    row = session.scalar(select(OutletInvoice).where(OutletInvoice.id == invoice_id,
                                                     OutletInvoice.outlet_id == outlet_id))
    if row is None:
        raise NotFound(f"no invoice {invoice_id} for outlet {outlet_id}")
    return row


def invoice_sales(session: Session, inv: OutletInvoice) -> list[OutletSale]:
    return list(session.scalars(
        select(OutletSale).join(OutletInvoiceItem, OutletInvoiceItem.sale_id == OutletSale.id)
        .where(OutletInvoiceItem.invoice_id == inv.id).order_by(OutletSale.id)))


def invoice_number(inv: OutletInvoice) -> str:
    return f"INV-{inv.outlet_id}-{inv.id:06d}"


def invoice_dict(inv: OutletInvoice) -> dict[str, Any]:
    return {"id": inv.id, "number": invoice_number(inv), "outlet": inv.outlet_id,
            "until": rfc3339(inv.until), "total": money(inv.total), "currency": inv.currency,
            "item_count": inv.item_count, "created_at": rfc3339(inv.created_at),
            "created_by": inv.created_by, "idempotency_key": inv.idempotency_key}


def outlet_invoices(session: Session, outlet_id: str) -> list[OutletInvoice]:
    return list(session.scalars(select(OutletInvoice).where(OutletInvoice.outlet_id == outlet_id)
                                .order_by(OutletInvoice.id)))


@dataclass(frozen=True)
class InvoiceDoc:
    """What the CSV and PDF show: the invoice, its outlet's name, and its lines."""

    invoice: dict[str, Any]
    outlet_name: str
    lines: list[dict[str, Any]]


def invoice_doc(session: Session, inv: OutletInvoice) -> InvoiceDoc:
    outlet = get_outlet(session, inv.outlet_id)
    lines = [{"sale": s.id, "date": rfc3339(s.created_at), "series": s.series_id, "qty": s.qty,
              "unit_price": money(s.unit_price), "amount": money(s.amount)}
             for s in invoice_sales(session, inv)]
    return InvoiceDoc(invoice_dict(inv), outlet.name, lines)


CSV_FIELDS = ("sale", "date", "series", "qty", "unit_price", "amount")


def invoice_csv(doc: InvoiceDoc) -> str:
    """One line per sale, then a ``total`` line (amounts with two decimals, no thousands sign)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_FIELDS)
    for line in doc.lines:
        w.writerow([line[f] for f in CSV_FIELDS])
    w.writerow(["total", "", "", sum(int(x["qty"]) for x in doc.lines), "",
                doc.invoice["total"]])
    return buf.getvalue()


def invoice_pdf(doc: InvoiceDoc, *, font_path: str | None = DEFAULT_FONT,
                compress: bool = True) -> bytes:
    """The invoice as a one-table PDF (fpdf2). ``compress=False`` keeps the text readable."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    pdf = FPDF(format="A4")
    pdf.set_compression(compress)
    pdf.set_title(doc.invoice["number"])
    pdf.add_page()
    if font_path is not None:
        pdf.add_font("Body", "", font_path)
        family = "Body"

        def text(s: str) -> str:
            return s
    else:
        family = "Helvetica"

        def text(s: str) -> str:
            return s.encode("latin-1", "replace").decode("latin-1")

    inv = doc.invoice
    nl = {"new_x": XPos.LMARGIN, "new_y": YPos.NEXT}
    pdf.set_font(family, size=16)
    pdf.cell(0, 10, text(f"Invoice {inv['number']}"), **nl)  # type: ignore[arg-type]
    pdf.set_font(family, size=10)
    for label, value in (("Outlet", f"{doc.outlet_name} ({inv['outlet']})"),
                         ("Period until", inv["until"]), ("Issued", inv["created_at"]),
                         ("Items", str(inv["item_count"]))):
        pdf.cell(0, 6, text(f"{label}: {value}"), **nl)  # type: ignore[arg-type]
    pdf.ln(4)
    widths = (20, 55, 20, 20, 35, 35)
    heads = ("Sale", "Date", "Series", "Qty", "Unit price", "Amount")
    for w, h in zip(widths, heads, strict=True):
        pdf.cell(w, 7, h, border=1)
    pdf.ln()
    for line in doc.lines:
        vals = (str(line["sale"]), line["date"][:19], str(line["series"]), str(line["qty"]),
                line["unit_price"], line["amount"])
        for w, v in zip(widths, vals, strict=True):
            pdf.cell(w, 6, text(v), border=1)
        pdf.ln()
    pdf.set_font(family, size=12)
    pdf.cell(0, 10, text(f"Total: {inv['total']} {inv['currency']}"), **nl)  # type: ignore[arg-type]
    return bytes(pdf.output())
