"""Sales outlets: selling tickets of assigned series, open items, periods and invoices."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
