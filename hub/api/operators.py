"""Operators: devices, commands (recorded), the dashboard and the steward page."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
