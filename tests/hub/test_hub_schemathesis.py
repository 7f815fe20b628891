"""Fuzz the whole HTTP API from its OpenAPI schema: no input may give a server error.

schemathesis' CLI runs against the real app served by uvicorn (a SQLite file), with an admin token
and with realistic path values for codes and nonces that exist, so it reaches past the 404s.
One worker: the coverage phase's Hypothesis internals are not thread-safe on Python 3.11.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hubkit import ADMIN, ADMIN_H

from hub.api.app import create_app
from hub.db import Database

pytestmark = pytest.mark.slow


def test_schemathesis_finds_no_server_error(db: Database, live_factory: Any,
                                            tmp_path: Path) -> None:
    server = live_factory(create_app(db))  # the system clock: time moves as in production
    import httpx

    with httpx.Client(base_url=server.url, headers=ADMIN_H) as http:
        http.post("/api/v1/series", json={"name": "Fuzz", "issue_count": 3}).raise_for_status()
        code = http.get("/api/v1/codes/1:0").json()["code"]
        http.post("/api/v1/redemptions",
                  json={"code": code, "gate": "g1", "nonce": "fuzz-nonce"}).raise_for_status()
    config = tmp_path / "schemathesis.toml"
    config.write_text('[parameters]\n"path.key" = "1:1"\n"path.nonce" = "fuzz-nonce"\n'
                      '"path.series_id" = 1\n')
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
    out = subprocess.run(
        [st, "--no-color", "--config-file", str(config), "run", f"{server.url}/openapi.json",
         "-H", f"Authorization: Bearer {ADMIN}", "--checks", "not_a_server_error",
         "--max-examples", "12", "--max-time", "45", "--workers", "1",
         "--request-timeout", "20", "--seed", "1", "--report", "junit",
         "--report-dir", str(tmp_path / "report")],
        capture_output=True, text=True, timeout=150,
    )
    tail = out.stdout[-4000:]
    assert out.returncode == 0, tail
    assert "generated" in tail and "passed" in tail, tail
