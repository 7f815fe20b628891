"""Fuzz the whole HTTP API from its OpenAPI schema: no input may give a server error.

schemathesis' CLI runs against the real app served by uvicorn (a SQLite file), with an admin token
and with realistic path values for codes and nonces that exist, so it reaches past the 404s.
One worker: the coverage phase's Hypothesis internals are not thread-safe on Python 3.11.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hubkit import ADMIN, ADMIN_H
from schemakit import run_st, write_config

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
    config = write_config(tmp_path / "schemathesis.toml",
                          {"path.key": "1:1", "path.nonce": "fuzz-nonce", "path.series_id": 1})
    out = run_st(server.url, config, ADMIN, seed=1, max_examples=12, max_time=45, timeout=150,
                 extra=("--report", "junit", "--report-dir", str(tmp_path / "report")))
    tail = out[-4000:]
    assert "passed" in tail, tail
