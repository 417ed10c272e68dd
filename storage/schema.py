"""The ORM schema: runs, their tags, and per-epoch and per-step metrics.

Times are stored as UTC. Columns read back as timezone-aware UTC datetimes
whatever the backend, so callers never see a naive time.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from storage.records import (  # noqa: F401  (kept SQL-free there)
    STATUSES,
    SWEEP_STATUSES,
    TERMINAL_STATUSES,
)

# Named constraints so Alembic can alter them later (SQLite batch mode needs names).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# runs.id is an INTEGER: 32 bits on PostgreSQL, so no run has a larger id, and asking
# for one would overflow the driver.
MAX_RUN_ID = 2**31 - 1

class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC: SQLite keeps no zone, so we pin one."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware UTC time")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime, float: Float, dict[str, Any]: JSON, list[Any]: JSON,
    }


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        CheckConstraint("status IN ('" + "','".join(STATUSES) + "')", name="status"),
        Index("ix_runs_status_queued_at", "status", "queued_at"),
        Index("ix_runs_model", "model"),
        Index("ix_runs_created_at", "created_at"),
        Index("ix_runs_best_val_acc", "best_val_acc"),
        Index("ix_runs_name", "name"),
        Index("ix_runs_status_requested_device", "status", "requested_device"),
        # Never reuse a deleted run's id: checkpoints and exports refer to ids.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # at most MAX_RUN_ID
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    config: Mapped[dict[str, Any]]

    # Key hyperparameters, copied out of `config` so lists can sort and filter on them.
    model: Mapped[str] = mapped_column(String(64))
    dataset: Mapped[str] = mapped_column(String(64))
    epochs: Mapped[int]
    batch_size: Mapped[int]
    max_lr: Mapped[float]
    weight_decay: Mapped[float]
    grad_clip: Mapped[float | None]
    optimizer: Mapped[str] = mapped_column(String(32))
    width_mult: Mapped[float]
    # The sweep (and its Optuna trial) this run trains, if any; a trial's seeds share it.
    sweep_id: Mapped[int | None] = mapped_column(Integer, index=True)
    trial_number: Mapped[int | None] = mapped_column(Integer)
    # The device the run asks for (config "device"): a worker claims only what it can serve.
    requested_device: Mapped[str] = mapped_column(String(64), default="auto",
                                                  server_default="auto")

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)  # claim order; reset on requeue
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    duration_s: Mapped[float | None]

    device: Mapped[str | None] = mapped_column(String(64))
    host: Mapped[str | None] = mapped_column(String(255))
    torch_version: Mapped[str | None] = mapped_column(String(64))
    git_commit: Mapped[str | None] = mapped_column(String(64))
    worker_id: Mapped[str | None] = mapped_column(String(128))
    heartbeat_at: Mapped[datetime | None]

    error: Mapped[str | None] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)

    best_val_acc: Mapped[float | None]
    final_val_acc: Mapped[float | None]
    test_acc: Mapped[float | None]
    test_loss: Mapped[float | None]
    per_class_acc: Mapped[list[Any] | None]
    confusion: Mapped[list[Any] | None]
    class_names: Mapped[list[Any] | None]
    images_per_s: Mapped[float | None]
    num_params: Mapped[int | None]
    total_steps: Mapped[int | None]
    steps_per_epoch: Mapped[int | None]
    current_epoch: Mapped[int | None]
    current_step: Mapped[int | None]

    checkpoint_best: Mapped[str | None] = mapped_column(Text)
    checkpoint_last: Mapped[str | None] = mapped_column(Text)
    resume_checkpoint: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    # Bumped by every note edit, so an edit made from a stale copy is refused, not lost.
    notes_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Automatic recovery: an interrupted run is requeued while attempt <= max_retries.
    max_retries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    attempt: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    tags: Mapped[list[Tag]] = relationship(
        back_populates="run", cascade="all, delete-orphan", passive_deletes=True
    )
    epoch_metrics: Mapped[list[EpochMetric]] = relationship(
        back_populates="run", cascade="all, delete-orphan", passive_deletes=True,
        order_by="EpochMetric.epoch",
    )
    attempts: Mapped[list[RunAttempt]] = relationship(
        back_populates="run", cascade="all, delete-orphan", passive_deletes=True,
        order_by="RunAttempt.attempt",
    )
    step_metrics: Mapped[list[StepMetric]] = relationship(
        back_populates="run", cascade="all, delete-orphan", passive_deletes=True,
        order_by="StepMetric.step",
    )


class Sweep(Base):
    """A sweep: many runs from one spec, steered by an Optuna study in this database."""

    __tablename__ = "sweeps"
    __table_args__ = (
        CheckConstraint("status IN ('" + "','".join(SWEEP_STATUSES) + "')", name="status"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(16))
    metric: Mapped[str] = mapped_column(String(32))
    goal: Mapped[str] = mapped_column(String(8))
    spec: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="active")
    n_trials: Mapped[int]
    repeat: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    prune: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Trials handed out so far; raised atomically, so workers on many hosts never ask
    # Optuna for more trials than the sweep has.
    trials_asked: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Trials the study holds as ended (complete, pruned or failed): settled when equal.
    trials_told: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    study_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = (Index("ix_tags_tag", "tag"),)

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)

    run: Mapped[Run] = relationship(back_populates="tags")


class EpochMetric(Base):
    __tablename__ = "epoch_metrics"
    __table_args__ = (UniqueConstraint("run_id", "epoch"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    epoch: Mapped[int]
    train_loss: Mapped[float | None]
    train_acc: Mapped[float | None]
    val_loss: Mapped[float | None]
    val_acc: Mapped[float | None]
    lr: Mapped[float | None]
    seconds: Mapped[float | None]
    images_per_s: Mapped[float | None]

    run: Mapped[Run] = relationship(back_populates="epoch_metrics")


class StepMetric(Base):
    """One logged step. Compact: composite key, no surrogate id, no rowid on SQLite."""

    __tablename__ = "step_metrics"
    __table_args__ = {"sqlite_with_rowid": False}

    run_id: Mapped[int] = mapped_column(
        ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    step: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    epoch: Mapped[int]
    loss: Mapped[float]
    lr: Mapped[float]
    wall_time: Mapped[float | None]  # Unix seconds when logged; None for rows before 0004

    run: Mapped[Run] = relationship(back_populates="step_metrics")


class SystemSampleRow(Base):
    """The machine while a run trained: CPU, RAM, disk, and each GPU as JSON (any count)."""

    __tablename__ = "system_samples"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    wall_time: Mapped[float]  # Unix seconds
    cpu_pct: Mapped[float]
    ram_used_mb: Mapped[float]
    ram_total_mb: Mapped[float]
    disk_used_pct: Mapped[float]
    gpus_json: Mapped[str] = mapped_column(Text, default="[]")


class RunAttempt(Base):
    """One try at a run: who trained it, where, and how it ended (the run's history)."""

    __tablename__ = "run_attempts"
    __table_args__ = (UniqueConstraint("run_id", "attempt"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    attempt: Mapped[int]
    worker_id: Mapped[str | None] = mapped_column(String(128))
    host: Mapped[str | None] = mapped_column(String(255))
    device: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)

    run: Mapped[Run] = relationship(back_populates="attempts")


class StoreInfo(Base):
    """The store's identity (one row): checkpoints and logs live under its own root,
    so two stores on one machine never share or delete each other's files."""

    __tablename__ = "store_info"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[str] = mapped_column(String(36))
    artifact_root: Mapped[str | None] = mapped_column(Text)  # None: app home/stores/<id>
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
