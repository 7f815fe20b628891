"""The customer's wallet page and its API, promotions, sharing and transfers."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
