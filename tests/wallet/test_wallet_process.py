"""The real ``venue hub`` process serves the wallet with its ``[wallet]`` config (environment
here): sent links carry ``base_url``, the page answers, the trigger thread runs."""

from __future__ import annotations

from pathlib import Path

import httpx
from loyaltykit import ADMIN_H, HubProcess, ok
from walletkit import wallets


def test_hub_process_serves_the_wallet_with_its_config(tmp_path: Path) -> None:
    hub = HubProcess(f"sqlite:///{tmp_path / 'hub.sqlite3'}", str(tmp_path / "data"),
                     VENUE_WALLET__BASE_URL="https://wallet.example.org",
                     VENUE_WALLET__TRIGGERS_INTERVAL_S="1",
                     VENUE_WALLET__TIMEZONE="Europe/Kyiv").wait_ready()
    try:
        with httpx.Client(base_url=hub.url, timeout=30) as c:
            w = wallets(c)
            out = ok(c.post(f"/api/v1/customers/{w.a}/wallet-link", json={"send": False},
                            headers=ADMIN_H), 201)
            assert out["url"].startswith("https://wallet.example.org/w/w1.")
            page = c.get(out["url"].replace("https://wallet.example.org", ""))
            assert page.status_code == 200 and w.ticket_a["short_serial"] in page.text
            assert "https://wallet.example.org/r/" in page.text
    finally:
        hub.stop()
    assert "+380671234567" not in hub.log()
