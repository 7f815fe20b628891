"""Schemathesis over the wallet's endpoints (promotions, rules, sharing, links, referrals and the
wallet page's routes) of a seeded hub: no input makes a server error."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from hubkit import make_db, start_server
from loyaltykit import ADMIN, ADMIN_H, ok
from walletkit import link, wallet_app, wallets

from venue.clock import SYSTEM_CLOCK

pytestmark = pytest.mark.slow
PATHS = "(promotions|wallet-rules|sharing|wallet-link|referrals|^/w|^/r/|^/s/)"


def test_schemathesis_finds_no_server_error_in_the_wallet(tmp_path: Path) -> None:
    db = make_db(f"sqlite:///{tmp_path / 'hub.sqlite3'}", SYSTEM_CLOCK)  # type: ignore[arg-type]
    server = start_server(wallet_app(db, SYSTEM_CLOCK, requests_per_ip_per_min=0))
    try:
        with httpx.Client(base_url=server.url, timeout=10) as c:
            w = wallets(c)
            promo = ok(c.post("/api/v1/promotions", headers=ADMIN_H,
                              json={"business": w.s.business, "title": "P",
                                    "series": w.s.series}), 201)
            token = link(c, w.a)[len("/w/"):]
        config = tmp_path / "schemathesis.toml"
        config.write_text(
            "[parameters]\n"
            f'"path.business_id" = {w.s.business}\n"path.customer_id" = "{w.a}"\n'
            f'"path.promo_id" = {promo["id"]}\n"path.series_id" = {w.tickets}\n'
            f'"path.token" = "{token}"\n')
        st = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
        out = subprocess.run(
            [st, "--no-color", "--config-file", str(config), "run",
             f"{server.url}/openapi.json", "-H", f"Authorization: Bearer {ADMIN}",
             "--checks", "not_a_server_error", "--include-path-regex", PATHS,
             "--max-examples", "8", "--max-time", "20", "--workers", "1",
             "--request-timeout", "20", "--seed", "3"],
            capture_output=True, text=True, timeout=150)
    finally:
        server.stop()
        db.dispose()
    tail = out.stdout[-4000:]
    assert out.returncode == 0, tail
    assert "generated" in tail, tail
    for path in ("/api/v1/promotions", "/w/{token}", "/r/{code}/join", "/s/{share}"):
        assert path in out.stdout, out.stdout[-6000:]
