"""Plain SQL on the DBAPI connection for the redemption hot path, the same on SQLite and
PostgreSQL.

The ORM costs more per redemption than the database does (its unit of work, identity map and
statement caching are built for object graphs, not for one locked row and one insert). The hot
path writes its few statements once, with ``:name`` parameters, and this module adapts them to
the driver (``%(name)s`` for psycopg) and converts the values SQLAlchemy would have converted:
times (SQLite keeps them as text in SQLAlchemy's format, so they still sort and compare) and
JSON.
"""

from __future__ import annotations

import functools
import json
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


class Sql:
    """Dialect helpers for one connection's dialect."""

    def __init__(self, dialect: str) -> None:
        self.pg = dialect == "postgresql"
        self.for_update = " FOR UPDATE OF c" if self.pg else ""

    @functools.lru_cache(maxsize=256)  # noqa: B019 - two instances live for the process
    def q(self, sql: str) -> str:
        """``:name`` parameters in the driver's style."""
        return _PARAM.sub(r"%(\1)s", sql.replace("%", "%%")) if self.pg else sql

    def t(self, when: datetime | None) -> Any:
        """A time as the column stores it."""
        if when is None or self.pg:
            return when
        return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    @staticmethod
    def time(value: Any) -> datetime | None:
        """A time column's value as an aware UTC datetime."""
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def json_in(self, obj: Any) -> str:
        return json.dumps(obj, separators=(",", ":"))

    @staticmethod
    def json_out(value: Any) -> Any:
        return json.loads(value) if isinstance(value, str | bytes) else value

    def run(self, conn: Connection, sql: str, params: dict[str, Any] | None = None) -> Rows:
        """Execute on the DBAPI cursor of ``conn``'s transaction (already begun by SQLAlchemy,
        so SQLite's ``BEGIN IMMEDIATE`` and the pool's bookkeeping still apply); skipping
        SQLAlchemy's result machinery halves the cost of a small statement."""
        cur = conn.connection.cursor()
        dbapi_error = conn.dialect.loaded_dbapi.Error
        try:
            cur.execute(self.q(sql), params or {})
        except dbapi_error as exc:
            cur.close()
            # The same exception SQLAlchemy would raise (OperationalError, IntegrityError, ...),
            # so callers' handlers (retry on an outage, 503 in the API) see what they expect.
            raise DBAPIError.instance(sql, params, exc, dbapi_error) from exc
        return Rows(cur)


class Rows:
    """The rows of one statement: plain tuples."""

    __slots__ = ("_cur",)

    def __init__(self, cur: Any) -> None:
        self._cur = cur

    def first(self) -> tuple[Any, ...] | None:
        try:
            return None if self._cur.description is None else self._cur.fetchone()
        finally:
            self._cur.close()


_SQLITE = Sql("sqlite")
_PG = Sql("postgresql")


def sql_for(conn: Connection) -> Sql:
    return _PG if conn.dialect.name == "postgresql" else _SQLITE
