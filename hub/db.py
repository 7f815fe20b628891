"""Engines and transactions for the hub: SQLite (one venue) or PostgreSQL (a chain of venues).

SQLite is opened in WAL mode with a busy timeout, and every write transaction starts with
``BEGIN IMMEDIATE``: the write lock is taken before the first read, so two redemptions of one code
are serialized and cannot both see it unused (a deferred transaction would upgrade its lock only
at the first write and fail with ``database is locked`` instead of waiting). PostgreSQL uses
``SELECT ... FOR UPDATE`` on the ticket row for the same guarantee (see :mod:`hub.redemption`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

_WRITE = "venue_write"


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use the psycopg 3 driver for them."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def default_url(data_dir: str) -> str:
    """The SQLite file in the data directory, the default for a single venue."""
    path = Path(data_dir) / "hub.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let us emit BEGIN ourselves (pysqlite's own transaction handling would defer it).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int = 40) -> Engine:
    """An engine for ``url`` set up for concurrent redemptions."""
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise ValueError("the hub needs a SQLite file, not an in-memory database")
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=60,
        )
        _sqlite_setup(engine)
        return engine
    # No pre-ping: it would add a round trip to every redemption; stale connections are
    # recycled instead, and a failed statement fails only its own request.
    return create_engine(
        url, pool_size=pool_size, max_overflow=max_overflow, pool_recycle=1800, pool_timeout=60
    )


@dataclass
class Database:
    """An engine plus session factories for reads and for writes.

    Use ``with db.write() as s:`` for anything that changes data: the session commits on success
    and rolls back on an exception. ``db.read()`` is for queries only.
    """

    engine: Engine

    def __post_init__(self) -> None:
        # SQLite has one writer. Threads of this process queue on a Python lock (handed over at
        # once) instead of in SQLite's busy handler, which sleeps 1, 2, 5, ... 100 ms between
        # tries and would make every contended redemption wait for nothing. Other processes on
        # the same file still wait in the busy handler (busy_timeout).
        self._writer = threading.Lock() if self.engine.dialect.name == "sqlite" else None
        self._write_engine = self.engine.execution_options(**{_WRITE: True})
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self._write_engine, expire_on_commit=False)

    @classmethod
    def connect(cls, url: str, **kwargs: Any) -> Database:
        return cls(make_engine(url, **kwargs))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session in a write transaction (``BEGIN IMMEDIATE`` on SQLite), committed at exit."""
        if self._writer is None:
            with self._write() as session, session.begin():
                yield session
            return
        with self._writer, self._write() as session, session.begin():
            yield session

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """Like :meth:`write` but a bare connection, for plain-SQL hot paths (no ORM session)."""
        if self._writer is None:
            with self._write_engine.begin() as conn:
                yield conn
            return
        with self._writer, self._write_engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for queries; nothing it does is committed."""
        with self._read() as session:
            try:
                yield session
            finally:
                session.rollback()

    def dispose(self) -> None:
        self.engine.dispose()


def migrate(engine: Engine) -> None:
    """Apply the Alembic migrations shipped with the hub up to ``head`` (idempotent)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
