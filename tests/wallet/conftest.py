"""Wallet fixtures: the hub's database on SQLite and PostgreSQL, an in-process client and a live
uvicorn over the wallet's app (the loyalty suite's helper modules reused). ``db_url``, ``any_db``
and ``clock`` come from the root tests/conftest.py."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parent.parent / "loyalty"))
sys.path.insert(0, str(Path(__file__).parent))

from hubkit import serve
from walletkit import wallet_app

from hub.db import Database
from venue.clock import FakeClock


@pytest.fixture
def db(any_db: Database) -> Database:
    """The hub's database: every test using it runs on SQLite and on PostgreSQL."""
    return any_db


@pytest.fixture
def client(db: Database, clock: FakeClock) -> Iterator[TestClient]:
    with TestClient(wallet_app(db, clock), follow_redirects=False) as c:
        yield c


@pytest.fixture
def live(db: Database, clock: FakeClock) -> Iterator[httpx.Client]:
    """A real uvicorn over the database, and a client to it."""
    with serve(wallet_app(db, clock)) as c:
        yield c
