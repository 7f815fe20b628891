"""Fuzz the outlet, sales-rules and transfer endpoints from the OpenAPI schema: no input may give
a server error. A seeded SQLite hub under uvicorn, with path values that exist (outlet, series,
sale, invoice, ticket), as an operator (admin) and as the outlet itself."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from hubkit import ADMIN, ADMIN_H
from outletkit import key, ok, outlet, sell, series
from schemakit import fuzz_hub, run_st, write_config

from hub.api.app import create_app

pytestmark = pytest.mark.slow


def _run(url: str, config: Path, token: str, paths: str) -> str:
    return run_st(url, config, token, paths=paths, seed=3, max_examples=10, max_time=12)


def test_schemathesis_finds_no_server_error_in_outlets(tmp_path: Path) -> None:
    with fuzz_hub(tmp_path, create_app) as url:
        with httpx.Client(base_url=url, timeout=10) as c:
            sid = series(c, per_order_limit=5)
            h = outlet(c, "o1", (sid, 1000, "10.00"))
            sale = sell(c, h, sid, 2, customer_phone="+380671234567").body
            inv = ok(c.post("/api/v1/outlets/o1/invoices", headers=ADMIN_H,
                            json={"idempotency_key": key()}), 201)
            outlet_token = h["Authorization"].split()[1]
        config = write_config(tmp_path / "schemathesis.toml", {
            "path.outlet_id": "o1", "path.series_id": sid, "path.sale_id": sale["id"],
            "path.invoice_id": inv["id"], "path.key": sale["refs"][0],
            "path.ref": sale["refs"][0]})
        _run(url, config, ADMIN, "(outlets|sales-rules|transfer)")
        _run(url, config, outlet_token, "/outlet/")
