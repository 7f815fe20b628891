"""Hub fixtures: a migrated SQLite database (``db``), and live uvicorn servers.

``sqlite_url``, ``db_url``, ``any_db`` (both backends), ``client`` and ``clock`` come from the root
tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from hubkit import LiveServer, make_db, start_server

from hub.db import Database
from venue.clock import FakeClock


@pytest.fixture
def db(sqlite_url: str, clock: FakeClock) -> Iterator[Database]:
    d = make_db(sqlite_url, clock)
    yield d
    d.dispose()


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
