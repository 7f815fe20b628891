"""Outlet fixtures: a migrated hub database on SQLite and PostgreSQL, an in-process client, and a
live uvicorn for the tests that need real concurrent HTTP."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parent.parent / "hub"))

from hubkit import make_db, start_server

from hub.api.app import create_app
from hub.db import Database
from venue.clock import FakeClock


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def db(db_url: str, clock: FakeClock) -> Iterator[Database]:
    """The hub's database: every test using it runs on SQLite and on PostgreSQL."""
    d = make_db(db_url, clock)
    yield d
    d.dispose()


@pytest.fixture
def client(db: Database, clock: FakeClock) -> Iterator[TestClient]:
    with TestClient(create_app(db, clock=clock, token_ttl=0.0)) as c:
        yield c


@pytest.fixture
def live(db: Database, clock: FakeClock) -> Iterator[httpx.Client]:
    """A real uvicorn over the database, and a keep-alive client to it."""
    server = start_server(create_app(db, clock=clock, token_ttl=0.0))
    try:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            yield c
    finally:
        server.stop()
