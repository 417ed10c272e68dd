"""Step wall times and system samples.

Revision ID: 0004
Revises: 0003

Adds step_metrics.wall_time (when each step was logged, for a wall-time chart axis;
rows stored before this stay NULL) and system_samples (CPU, RAM, disk and each GPU,
sampled by the worker while a run trains, so a finished run still shows its GPU use).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN: step_metrics is WITHOUT ROWID on SQLite and may be large.
    op.add_column("step_metrics", sa.Column("wall_time", sa.Float(), nullable=True))
    op.create_table(
        "system_samples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("wall_time", sa.Float(), nullable=False),
        sa.Column("cpu_pct", sa.Float(), nullable=False),
        sa.Column("ram_used_mb", sa.Float(), nullable=False),
        sa.Column("ram_total_mb", sa.Float(), nullable=False),
        sa.Column("disk_used_pct", sa.Float(), nullable=False),
        sa.Column("gpus_json", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE",
                                name=op.f("fk_system_samples_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_system_samples")),
    )
    op.create_index(op.f("ix_system_samples_run_id"), "system_samples", ["run_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_system_samples_run_id"), table_name="system_samples")
    op.drop_table("system_samples")
    with op.batch_alter_table("step_metrics") as batch:
        batch.drop_column("wall_time")
