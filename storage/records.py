"""Plain dataclasses the store returns; no SQLAlchemy objects leak to callers.

Times are timezone-aware UTC ``datetime`` objects (or None).
Accuracies are fractions in [0, 1], as the engine reports them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Here, not in storage.schema, so the TUI can name them without importing SQLAlchemy.
STATUSES = ("queued", "running", "completed", "failed", "cancelled", "interrupted", "pruned")
# "pruned": a sweep's pruner stopped it early; its metrics so far are kept.
TERMINAL_STATUSES = ("completed", "failed", "cancelled", "interrupted", "pruned")
SWEEP_STATUSES = ("active", "completed", "cancelled")


@dataclass(frozen=True)
class ClaimedRun:
    run_id: int
    name: str
    config: dict[str, Any]
    resume_checkpoint: str | None


@dataclass(frozen=True)
class Interruption:
    """What became of a run that stopped without ending (its holder gone or stopped)."""

    run_id: int
    status: str  # "queued" (requeued automatically), "interrupted" or "cancelled"
    reason: str  # one line: what happened and what comes next (or the fix)
    attempt: int  # the attempt that ended

    @property
    def message(self) -> str:
        verb = "cancelled" if self.status == "cancelled" else "interrupted"  # a cancel was asked
        return f"run {self.run_id} {verb}: {self.reason}"


@dataclass(frozen=True, slots=True)
class AttemptRow:
    """One try at a run: who trained it, where, and how it ended."""

    attempt: int
    worker_id: str | None
    host: str | None
    device: str | None
    started_at: datetime
    ended_at: datetime | None
    outcome: str | None  # None while it runs
    reason: str | None


@dataclass(frozen=True)
class RunFilter:
    """Every given field must match; ``text`` looks in name, notes, model and id."""

    status: str | Sequence[str] | None = None
    model: str | None = None
    tag: str | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class StepRow:
    step: int
    epoch: int
    loss: float
    lr: float
    wall_time: float | None = None  # Unix seconds; None for steps stored before 0004


@dataclass(frozen=True, slots=True)
class EpochRow:
    epoch: int
    train_loss: float | None
    train_acc: float | None
    val_loss: float | None
    val_acc: float | None
    lr: float | None
    seconds: float | None
    images_per_s: float | None


@dataclass(frozen=True)
class RunSummary:
    """One row of the run list."""

    id: int
    name: str
    status: str
    model: str
    dataset: str
    epochs: int
    current_epoch: int | None
    current_step: int | None
    total_steps: int | None
    best_val_acc: float | None
    final_val_acc: float | None
    test_acc: float | None
    duration_s: float | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    device: str | None
    tags: tuple[str, ...]
    max_lr: float
    batch_size: int
    optimizer: str
    width_mult: float
    images_per_s: float | None
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)


# Columns list_runs can sort by: every summary field but the tags.
SORTABLE = tuple(f.name for f in dataclasses.fields(RunSummary) if f.name != "tags")


@dataclass(frozen=True)
class RunDetail(RunSummary):
    """One run with everything: config, results and per-epoch history."""

    config: dict[str, Any] = field(default_factory=dict)
    notes: str | None = None
    notes_version: int = 0  # bumped by every note edit; editors send the one they loaded
    traceback: str | None = None
    test_loss: float | None = None
    per_class_acc: list[float] | None = None
    confusion: list[list[int]] | None = None
    class_names: list[str] | None = None
    checkpoints: dict[str, str] = field(default_factory=dict)  # kind ("best"/"last") -> path
    resume_checkpoint: str | None = None
    cancel_requested: bool = False
    host: str | None = None
    torch_version: str | None = None
    git_commit: str | None = None
    worker_id: str | None = None
    num_params: int | None = None
    steps_per_epoch: int | None = None
    weight_decay: float | None = None
    grad_clip: float | None = None
    # Not ``epochs``: that name is the configured epoch count, inherited from RunSummary.
    epoch_rows: list[EpochRow] = field(default_factory=list)
    max_retries: int = 0  # automatic requeues allowed after an interruption
    attempt: int = 1  # the current (or last) attempt's number
    attempts: list[AttemptRow] = field(default_factory=list)  # oldest first


@dataclass(frozen=True)
class Comparison:
    """Several runs side by side, in the order asked for."""

    run_ids: list[int]
    runs: list[RunDetail]
    config_diff: dict[str, list[Any]]  # config key -> each run's value, only keys that differ
    metrics: dict[str, list[Any]]  # metric -> each run's value
    curves: dict[int, list[EpochRow]]  # run id -> its epochs

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_ids": self.run_ids,
            "names": [r.name for r in self.runs],
            "config_diff": self.config_diff,
            "metrics": self.metrics,
            "curves": {str(k): [to_jsonable(e) for e in v] for k, v in self.curves.items()},
        }


def to_jsonable(obj: Any) -> Any:
    """Dataclasses, datetimes and tuples as JSON-ready values (datetimes as ISO 8601)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    return obj


@dataclass(frozen=True)
class SweepRecord:
    """One sweep: its spec (``engine.sweep_spec.SweepSpec.to_dict``) and how far it got."""

    id: int
    name: str
    method: str  # grid, random or tpe
    metric: str  # val_acc, test_acc or val_loss
    goal: str  # max or min
    status: str  # active, completed or cancelled
    spec: dict[str, Any]
    n_trials: int
    repeat: int  # runs per trial (seeds 0..repeat-1)
    prune: bool
    trials_asked: int
    trials_told: int
    study_name: str
    created_at: datetime
    finished_at: datetime | None
    run_counts: dict[str, int] = field(default_factory=dict)  # status -> runs


@dataclass(frozen=True, slots=True)
class SweepRunRow:
    """One run of a sweep, with what its trial is judged by."""

    run_id: int
    name: str
    status: str
    trial_number: int
    config: dict[str, Any]
    best_val_acc: float | None
    test_acc: float | None
    min_val_loss: float | None
    duration_s: float | None
