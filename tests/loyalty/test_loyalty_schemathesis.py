"""Fuzz the loyalty and shop endpoints from the OpenAPI schema: no input may give a server error.

A seeded SQLite hub under uvicorn, with path values that exist (business, customer, reward,
item, media), so the generated requests reach past the 404s. (It found item ids beyond 64 bits
reaching the database as a 500.)
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from loyaltykit import ADMIN, register, seed
from schemakit import fuzz_hub, run_st, write_config

from hub.api.app import create_app

pytestmark = pytest.mark.slow
PATHS = "(businesses|customers|kiosk|visits|rewards|catalog|media|checks|cards|ledger)"


def test_schemathesis_finds_no_server_error_in_loyalty(tmp_path: Path) -> None:
    with fuzz_hub(tmp_path, lambda db: create_app(db, identify_limits=(0, 0))) as url:
        with httpx.Client(base_url=url, timeout=10) as c:
            s = seed(c)
            customer = register(c, s)["customer"]
        config = write_config(tmp_path / "schemathesis.toml", {
            "path.business_id": s.business, "path.customer_id": customer,
            "path.reward_id": s.reward, "path.item_id": s.latte,
            "path.name": "coffee.png", "path.check_id": 1})
        run_st(url, config, ADMIN, paths=PATHS, seed=2, max_examples=12, max_time=30)
