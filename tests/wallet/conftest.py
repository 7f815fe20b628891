"""Wallet fixtures: the hub's database on SQLite and PostgreSQL, an in-process client and a live
uvicorn (the loyalty suite's, reused through its helper modules)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parent.parent / "hub"))
sys.path.insert(0, str(Path(__file__).parent.parent / "loyalty"))
sys.path.insert(0, str(Path(__file__).parent))

from hubkit import make_db, start_server
from walletkit import wallet_app

from hub.db import Database
from venue.clock import FakeClock


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def db(db_url: str, clock: FakeClock) -> Iterator[Database]:
    d = make_db(db_url, clock)
    yield d
    d.dispose()


@pytest.fixture
def client(db: Database, clock: FakeClock) -> Iterator[TestClient]:
    with TestClient(wallet_app(db, clock), follow_redirects=False) as c:
        yield c


@pytest.fixture
def live(db: Database, clock: FakeClock) -> Iterator[httpx.Client]:
    """A real uvicorn over the database, and a client to it."""
    server = start_server(wallet_app(db, clock))
    try:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            yield c
    finally:
        server.stop()
