"""Resume and cancel support, and the class names beside per-class results.

Revision ID: 0002
Revises: 0001

Adds runs.resume_checkpoint (set when a run is requeued to resume),
runs.cancel_requested (a running run's worker polls it) and runs.class_names.
Existing rows keep their data; the new flag starts false.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy), so SQLite keeps the table's AUTOINCREMENT.
    op.add_column("runs", sa.Column("resume_checkpoint", sa.Text(), nullable=True))
    op.add_column(
        "runs",
        sa.Column("cancel_requested", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("runs", sa.Column("class_names", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("class_names")
        batch.drop_column("cancel_requested")
        batch.drop_column("resume_checkpoint")
