"""Outlet fixtures: a migrated hub database on SQLite and PostgreSQL, and a live uvicorn for the
tests that need real concurrent HTTP. ``db_url``, ``any_db``, ``client`` and ``clock`` come from
the root tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from hubkit import serve

from hub.api.app import create_app
from hub.db import Database
from venue.clock import FakeClock


@pytest.fixture
def db(any_db: Database) -> Database:
    """The hub's database: every test using it runs on SQLite and on PostgreSQL."""
    return any_db


@pytest.fixture
def live(db: Database, clock: FakeClock) -> Iterator[httpx.Client]:
    """A real uvicorn over the database, and a keep-alive client to it."""
    with serve(create_app(db, clock=clock, token_ttl=0.0)) as c:
        yield c
