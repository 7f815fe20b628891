"""Gifts and passes: lottery, gift sets, prepaid top-ups, passes, tickets sold in the catalog."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
