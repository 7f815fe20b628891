"""Starting the hub: migrate, make sure the keys and the admin token exist, serve."""

from __future__ import annotations

from hub import keys
from hub.auth import ensure_token
from hub.db import Database, migrate
from venue.clock import Clock


def bootstrap(db: Database, *, clock: Clock, admin_token: str | None = None) -> None:
    """Bring the database to the current schema and make the hub's secrets on first start."""
    migrate(db.engine)
    now = clock.now()
    with db.write() as s:
        keys.hash_salt(s)
        keys.signing_key(s, now=now)
        if admin_token:
            ensure_token(s, admin_token, role="admin", device="admin", now=now)


def serve(config: object, db: Database, *, clock: Clock) -> int:  # replaced below
    raise NotImplementedError
