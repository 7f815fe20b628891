"""Fuzz the campaign, claim, contact, tag and notification endpoints from the OpenAPI schema: no
input may give a server error. A seeded SQLite hub under uvicorn, with path values that exist."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from loyaltykit import ADMIN, ADMIN_H, ok, register, seed
from schemakit import fuzz_hub, run_st, write_config

from hub.api.app import create_app

pytestmark = pytest.mark.slow
PATHS = "(campaigns|campaign-qr|claims|notifications|/contact|/tags)"


def test_schemathesis_finds_no_server_error_in_earn_routes(tmp_path: Path) -> None:
    with fuzz_hub(tmp_path, lambda db: create_app(db, identify_limits=(0, 0))) as url:
        with httpx.Client(base_url=url, timeout=10) as c:
            s = seed(c)
            customer = register(c, s)["customer"]
            camp = ok(c.post("/api/v1/campaigns", headers=ADMIN_H,
                             json={"business": s.business, "name": "All", "kind": "filter",
                                   "series": s.series}), 201)
        config = write_config(tmp_path / "schemathesis.toml",
                              {"path.customer_id": customer, "path.campaign_id": camp["id"]})
        run_st(url, config, ADMIN, paths=PATHS, seed=3, max_examples=15, max_time=30)
