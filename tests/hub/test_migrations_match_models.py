"""The migrations and the models describe one schema.

Several people add tables at once (each feature its own migration and models module); a table in a
model without a migration would only show up as a 500 in production. Alembic's own comparison
finds it here.
"""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from hub.db import Database, migrate
from hub.schema import metadata


def test_migrations_at_head_match_the_models(db_url: str) -> None:
    db = Database.connect(db_url)
    try:
        migrate(db.engine)
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": False})
            diff = compare_metadata(ctx, metadata)
        assert diff == [], f"models and migrations differ: {diff}"
    finally:
        db.dispose()
