"""Fuzz the outlet, sales-rules and transfer endpoints from the OpenAPI schema: no input may give
a server error. A seeded SQLite hub under uvicorn, with path values that exist (outlet, series,
sale, invoice, ticket), as an operator (admin) and as the outlet itself."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from hubkit import ADMIN, ADMIN_H, make_db, start_server
from outletkit import key, ok, outlet, sell, series

from hub.api.app import create_app
from hub.db import Database
from venue.clock import SYSTEM_CLOCK

pytestmark = pytest.mark.slow


def _run(url: str, config: Path, token: str, paths: str) -> str:
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
    out = subprocess.run(
        [st, "--no-color", "--config-file", str(config), "run", f"{url}/openapi.json",
         "-H", f"Authorization: Bearer {token}", "--checks", "not_a_server_error",
         "--include-path-regex", paths, "--max-examples", "10", "--max-time", "12",
         "--workers", "1", "--request-timeout", "20", "--seed", "3"],
        capture_output=True, text=True, timeout=120)
    tail = out.stdout[-4000:]
    assert out.returncode == 0, tail
    assert "generated" in tail, tail
    return tail


def test_schemathesis_finds_no_server_error_in_outlets(tmp_path: Path) -> None:
    db: Database = make_db(f"sqlite:///{tmp_path / 'hub.sqlite3'}", SYSTEM_CLOCK)
    server = start_server(create_app(db))
    try:
        with httpx.Client(base_url=server.url, timeout=10) as c:
            sid = series(c, per_order_limit=5)
            h = outlet(c, "o1", (sid, 1000, "10.00"))
            sale = sell(c, h, sid, 2, customer_phone="+380671234567").body
            inv = ok(c.post("/api/v1/outlets/o1/invoices", headers=ADMIN_H,
                            json={"idempotency_key": key()}), 201)
            outlet_token = h["Authorization"].split()[1]
        config = tmp_path / "schemathesis.toml"
        config.write_text(
            "[parameters]\n"
            f'"path.outlet_id" = "o1"\n"path.series_id" = {sid}\n'
            f'"path.sale_id" = {sale["id"]}\n"path.invoice_id" = {inv["id"]}\n'
            f'"path.key" = "{sale["refs"][0]}"\n"path.ref" = "{sale["refs"][0]}"\n')
        _run(server.url, config, ADMIN, "(outlets|sales-rules|transfer)")
        _run(server.url, config, outlet_token, "/outlet/")
    finally:
        server.stop()
        db.dispose()
