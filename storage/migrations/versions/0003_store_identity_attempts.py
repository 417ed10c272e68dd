"""Store identity, run attempts, retries and note versions.

Revision ID: 0003
Revises: 0002

Adds store_info (one row: a UUID made here and the artifact root; checkpoints of
runs created from now on live under that root), run_attempts (each try at a run),
runs.max_retries / runs.attempt (automatic requeue of interrupted runs) and
runs.notes_version (a note edit from a stale copy is refused). Existing rows keep
their data, and their recorded checkpoint paths stay as they are, so they stay valid.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    info = op.create_table(
        "store_info",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.String(36), nullable=False),
        sa.Column("artifact_root", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_store_info")),
    )
    now = datetime.now(timezone.utc).replace(tzinfo=None)  # the schema stores naive UTC
    op.bulk_insert(info, [{"id": 1, "store_id": str(uuid.uuid4()), "created_at": now}])
    op.create_table(
        "run_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.String(128), nullable=True),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("device", sa.String(64), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE",
                                name=op.f("fk_run_attempts_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_attempts")),
        sa.UniqueConstraint("run_id", "attempt", name=op.f("uq_run_attempts_run_id")),
    )
    # Plain ADD COLUMN (no batch copy), so SQLite keeps the runs table's AUTOINCREMENT.
    for name, default in (("notes_version", "0"), ("max_retries", "0"), ("attempt", "1")):
        op.add_column("runs", sa.Column(name, sa.Integer(), nullable=False,
                                        server_default=default))


def downgrade() -> None:
    with op.batch_alter_table("runs", table_kwargs={"sqlite_autoincrement": True}) as batch:
        for name in ("attempt", "max_retries", "notes_version"):
            batch.drop_column(name)
    op.drop_table("run_attempts")
    op.drop_table("store_info")
