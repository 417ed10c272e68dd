"""The device each run asks for, as a column the claim can filter on.

Revision ID: 0005
Revises: 0004

A worker on cuda:1 claims only runs that ask for auto, cuda or cuda:1. The request
lives in the run's config JSON; copying it to runs.requested_device keeps the claim
one indexed query on SQLite and PostgreSQL alike. Existing rows are filled from their
config.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("requested_device", sa.String(64), nullable=False,
                                    server_default="auto"))
    runs = sa.table("runs", sa.column("id", sa.Integer()), sa.column("config", sa.JSON()),
                    sa.column("requested_device", sa.String(64)))
    conn = op.get_bind()
    for run_id, config in conn.execute(sa.select(runs.c.id, runs.c.config)).all():
        if isinstance(config, str):
            config = json.loads(config)
        device = (config or {}).get("device") or "auto"
        if device != "auto":
            conn.execute(sa.update(runs).where(runs.c.id == run_id)
                         .values(requested_device=str(device)[:64]))
    op.create_index("ix_runs_status_requested_device", "runs", ["status", "requested_device"])


def downgrade() -> None:
    op.drop_index("ix_runs_status_requested_device", table_name="runs")
    with op.batch_alter_table("runs", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("requested_device")
