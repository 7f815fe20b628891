"""Schemathesis over the wallet's endpoints (promotions, rules, sharing, links, referrals and the
wallet page's routes) of a seeded hub: no input makes a server error."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from loyaltykit import ADMIN, ADMIN_H, ok
from schemakit import fuzz_hub, run_st, write_config
from walletkit import link, wallet_app, wallets

from venue.clock import SYSTEM_CLOCK

pytestmark = pytest.mark.slow
PATHS = "(promotions|wallet-rules|sharing|wallet-link|referrals|^/w|^/r/|^/s/)"


def test_schemathesis_finds_no_server_error_in_the_wallet(tmp_path: Path) -> None:
    with fuzz_hub(tmp_path,
                  lambda db: wallet_app(db, SYSTEM_CLOCK, requests_per_ip_per_min=0)) as url:
        with httpx.Client(base_url=url, timeout=10) as c:
            w = wallets(c)
            promo = ok(c.post("/api/v1/promotions", headers=ADMIN_H,
                              json={"business": w.s.business, "title": "P",
                                    "series": w.s.series}), 201)
            token = link(c, w.a)[len("/w/"):]
        config = write_config(tmp_path / "schemathesis.toml", {
            "path.business_id": w.s.business, "path.customer_id": w.a,
            "path.promo_id": promo["id"], "path.series_id": w.tickets, "path.token": token})
        out = run_st(url, config, ADMIN, paths=PATHS, seed=3, max_examples=8,
                     max_time=20, timeout=150)
    for path in ("/api/v1/promotions", "/w/{token}", "/r/{code}/join", "/s/{share}"):
        assert path in out, out[-6000:]
