"""Hub fixtures: a migrated database (SQLite file, or SQLite and PostgreSQL), the app, uvicorn."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hubkit import LiveServer, make_db, start_server

from hub.api.app import create_app
from hub.db import Database
from venue.clock import FakeClock


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hub.sqlite3'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Tests using this run on a SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def db(sqlite_url: str, clock: FakeClock) -> Iterator[Database]:
    d = make_db(sqlite_url, clock)
    yield d
    d.dispose()


@pytest.fixture
def any_db(db_url: str, clock: FakeClock) -> Iterator[Database]:
    d = make_db(db_url, clock)
    yield d
    d.dispose()


@pytest.fixture
def client(db: Database, clock: FakeClock) -> Iterator[TestClient]:
    with TestClient(create_app(db, clock=clock, token_ttl=0.0)) as c:
        yield c


@pytest.fixture
def live_factory() -> Iterator[Any]:
    made: list[LiveServer] = []

    def make(app: FastAPI) -> LiveServer:
        s = start_server(app)
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()
