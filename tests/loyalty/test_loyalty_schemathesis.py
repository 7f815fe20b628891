"""Fuzz the loyalty and shop endpoints from the OpenAPI schema: no input may give a server error.

A seeded SQLite hub under uvicorn, with path values that exist (business, customer, reward,
item, media), so the generated requests reach past the 404s. (It found item ids beyond 64 bits
reaching the database as a 500.)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from hubkit import start_server
from loyaltykit import ADMIN, register, seed

from hub.api.app import create_app
from hub.db import Database

pytestmark = pytest.mark.slow
PATHS = "(businesses|customers|kiosk|visits|rewards|catalog|media|checks|cards|ledger)"


def test_schemathesis_finds_no_server_error_in_loyalty(tmp_path: Path) -> None:
    from hubkit import make_db

    from venue.clock import SYSTEM_CLOCK

    db: Database = make_db(f"sqlite:///{tmp_path / 'hub.sqlite3'}", SYSTEM_CLOCK)
    server = start_server(create_app(db, identify_limits=(0, 0)))
    try:
        with httpx.Client(base_url=server.url, timeout=10) as c:
            s = seed(c)
            customer = register(c, s)["customer"]
        config = tmp_path / "schemathesis.toml"
        config.write_text(
            "[parameters]\n"
            f'"path.business_id" = {s.business}\n"path.customer_id" = "{customer}"\n'
            f'"path.reward_id" = {s.reward}\n"path.item_id" = {s.latte}\n'
            '"path.name" = "coffee.png"\n"path.check_id" = 1\n')
        st = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
        out = subprocess.run(
            [st, "--no-color", "--config-file", str(config), "run",
             f"{server.url}/openapi.json", "-H", f"Authorization: Bearer {ADMIN}",
             "--checks", "not_a_server_error", "--include-path-regex", PATHS,
             "--max-examples", "12", "--max-time", "30", "--workers", "1",
             "--request-timeout", "20", "--seed", "2"],
            capture_output=True, text=True, timeout=120)
    finally:
        server.stop()
        db.dispose()
    tail = out.stdout[-4000:]
    assert out.returncode == 0, tail
    assert "generated" in tail, tail
