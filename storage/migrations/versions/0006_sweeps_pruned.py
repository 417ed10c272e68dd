"""Sweeps, and `pruned` as a run status of its own.

Revision ID: 0006
Revises: 0005

Adds the sweeps table (one row per sweep: its spec, method, metric and goal, and how
many trials were asked and told), runs.sweep_id and runs.trial_number (the Optuna trial a run
trains; a trial's seeds share it), and allows status 'pruned'.

SQLite cannot alter a CHECK constraint. Rebuilding the runs table would, with foreign
keys on, cascade-delete every child row and reset AUTOINCREMENT, so the constraint's text
is widened in place instead: SQLite's documented procedure for schema changes that leave
the stored rows valid (lang_altertable.html, "otheralter"), verified by integrity_check.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OLD = "'queued','running','completed','failed','cancelled','interrupted'"
NEW = OLD + ",'pruned'"


def upgrade() -> None:
    op.create_table(
        "sweeps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("metric", sa.String(32), nullable=False),
        sa.Column("goal", sa.String(8), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("n_trials", sa.Integer(), nullable=False),
        sa.Column("repeat", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("prune", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("trials_asked", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("trials_told", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("study_name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sweeps")),
        sa.CheckConstraint("status IN ('active','completed','cancelled')",
                           name=op.f("ck_sweeps_status")),
        sqlite_autoincrement=True,
    )
    # Plain ADD COLUMN (no batch copy), so SQLite keeps the runs table's AUTOINCREMENT.
    op.add_column("runs", sa.Column("sweep_id", sa.Integer(), nullable=True))
    op.add_column("runs", sa.Column("trial_number", sa.Integer(), nullable=True))
    op.create_index("ix_runs_sweep_id", "runs", ["sweep_id"])
    _set_status_check(OLD, NEW)


def downgrade() -> None:
    op.execute("UPDATE runs SET status = 'cancelled' WHERE status = 'pruned'")
    _set_status_check(NEW, OLD)
    op.drop_index("ix_runs_sweep_id", table_name="runs")
    with op.batch_alter_table("runs", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("trial_number")
        batch.drop_column("sweep_id")
    op.drop_table("sweeps")


def _set_status_check(old: str, new: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.execute("ALTER TABLE runs DROP CONSTRAINT ck_runs_status")
        op.execute(f"ALTER TABLE runs ADD CONSTRAINT ck_runs_status CHECK (status IN ({new}))")
        return
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'runs'").scalar()
    if f"({new})" in sql:
        return
    if f"({old})" not in sql:
        raise RuntimeError("the runs table's status check is not the one this migration knows")
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'runs'",
        (sql.replace(f"({old})", f"({new})"),))
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")
    problems = bind.exec_driver_sql("PRAGMA integrity_check").scalar()
    if problems != "ok":
        raise RuntimeError(f"integrity check after widening the status check: {problems}")
