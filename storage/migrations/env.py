"""Alembic environment, driven from storage.db with an open connection.

There is no alembic.ini: storage.db builds the Config in code and hands over
its connection in ``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context

from storage.db import VERSION_TABLE
from storage.schema import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # Not alembic_version: Optuna's study tables share the database and use that name.
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
)
with context.begin_transaction():
    context.run_migrations()
