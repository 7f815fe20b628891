"""More ways to earn: notifications, issuance campaigns, fiscal-check claims, campaign QR."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
