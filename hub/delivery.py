"""Delivery adapters: a code as a QR image (PNG/SVG, segno), a Code 128 barcode for paper
(python-barcode's SVG writer, no Pillow needed), or text for an SMS.

Sending (email, SMS gateways) belongs to the loyalty side; these only render.
"""

from __future__ import annotations

import io

import segno

from venue import codes

BARCODE_MAX = 48
"""Longest text put in a Code 128; a 135-character generated code would be ~30 cm wide, so for
those the barcode carries the short serial (accepted where staff check)."""


def qr_png(text: str, *, scale: int = 4, error: str = "m") -> bytes:
    """A QR code as PNG; generated codes use alphanumeric mode (version 6 at level M).

    The one renderer of QR images for tickets, gift codes, emailed coupons and posters; callers
    choose only the size and, for posters that weather, a higher ``error`` correction level.
    """
    buf = io.BytesIO()
    segno.make(text, error=error, micro=False).save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()


def qr_svg(text: str, *, scale: int = 4) -> bytes:
    buf = io.BytesIO()
    segno.make(text, error="m", micro=False).save(buf, kind="svg", scale=scale, border=4)
    return buf.getvalue()


def barcode_text(code: str, series_id: int, serial: int) -> str:
    """What goes in the printed barcode: the code itself, or the short serial if too long."""
    if len(code) <= BARCODE_MAX and code.isascii():
        return code
    return codes.short_serial(series_id, serial)


class DeliveryUnavailable(RuntimeError):
    """A rendering needs a library this install lacks (the API answers 501)."""


def barcode_svg(text: str) -> bytes:
    """A Code 128 barcode as SVG with the text printed under it (needs ``python-barcode``)."""
    try:
        import barcode
        from barcode.writer import SVGWriter
    except ImportError:
        raise DeliveryUnavailable(
            "printable barcodes need python-barcode (pip install 'venue[hub]')"
        ) from None

    buf = io.BytesIO()
    barcode.get("code128", text, writer=SVGWriter()).write(buf)
    return buf.getvalue()


def sms_text(series_name: str, code: str, short: str) -> str:
    """The text of an SMS carrying a code (the number to show or type at the gate)."""
    return f"{series_name}: your code {code} (serial {short})"
