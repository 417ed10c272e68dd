"""Read-side queries behind RunStore: lists, details, compare and export.

Each takes an open Session and does a fixed, small number of round trips
(no N+1): the run page is one query for the rows and one for their tags.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from storage.errors import BadFilter, RunNotFound
from storage.records import (
    SORTABLE,
    AttemptRow,
    Comparison,
    EpochRow,
    RunDetail,
    RunFilter,
    RunSummary,
    StepRow,
)
from storage.schema import MAX_RUN_ID, STATUSES, EpochMetric, Run, RunAttempt, StepMetric, Tag

SUMMARY_COLUMNS = [getattr(Run, name) for name in SORTABLE]
EPOCH_COLUMNS = [
    EpochMetric.epoch, EpochMetric.train_loss, EpochMetric.train_acc, EpochMetric.val_loss,
    EpochMetric.val_acc, EpochMetric.lr, EpochMetric.seconds, EpochMetric.images_per_s,
]
COMPARED_METRICS = (
    "status", "best_val_acc", "final_val_acc", "test_acc", "test_loss", "current_epoch",
    "duration_s", "images_per_s", "num_params", "device",
)


def _statuses(status: str | Sequence[str] | None) -> list[str]:
    if status is None:
        return []
    wanted = [status] if isinstance(status, str) else list(status)
    wanted = [s.strip().lower() for w in wanted for s in w.split(",") if s.strip()]
    bad = [s for s in wanted if s not in STATUSES]
    if bad:
        raise BadFilter(f"unknown status {bad[0]!r}; choose from: {', '.join(STATUSES)}")
    return wanted


def _filtered(stmt: Select[Any], flt: RunFilter | None) -> Select[Any]:
    if flt is None:
        return stmt
    statuses = _statuses(flt.status)
    if statuses:
        stmt = stmt.where(Run.status.in_(statuses))
    if flt.model:
        stmt = stmt.where(Run.model == flt.model)
    if flt.tag:
        tagged = select(Tag.run_id).where(Tag.run_id == Run.id, Tag.tag == flt.tag)
        stmt = stmt.where(tagged.exists())
    text = (flt.text or "").strip()
    if text:
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        terms = [col.ilike(pattern, escape="\\") for col in (Run.name, Run.notes, Run.model)]
        digits = text.lstrip("#")
        # Beyond MAX_RUN_ID no run has it, and the driver would overflow on it.
        if digits.isdecimal() and len(digits) <= 10 and int(digits) <= MAX_RUN_ID:
            terms.append(Run.id == int(digits))
        stmt = stmt.where(or_(*terms))
    return stmt


def tags_for(s: Session, run_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
    ids = list(run_ids)
    found: dict[int, list[str]] = defaultdict(list)
    if ids:
        rows = s.execute(select(Tag.run_id, Tag.tag).where(Tag.run_id.in_(ids)).order_by(Tag.tag))
        for run_id, tag in rows:
            found[run_id].append(tag)
    return {k: tuple(v) for k, v in found.items()}


def list_runs(
    s: Session, flt: RunFilter | None, sort: str, descending: bool, limit: int, offset: int
) -> list[RunSummary]:
    if sort not in SORTABLE:
        raise BadFilter(f"cannot sort by {sort!r}; choose from: {', '.join(SORTABLE)}")
    column = getattr(Run, sort)
    order = column.desc() if descending else column.asc()
    tie = Run.id.desc() if descending else Run.id.asc()
    if column.nullable:  # empty values last either way, on every backend
        order = order.nulls_last()
    stmt = _filtered(select(*SUMMARY_COLUMNS), flt).order_by(order, tie)
    stmt = stmt.limit(max(0, limit)).offset(max(0, offset))
    rows = s.execute(stmt).all()
    tags = tags_for(s, (r.id for r in rows))
    return [RunSummary(**r._mapping, tags=tags.get(r.id, ())) for r in rows]


def count_runs(s: Session, flt: RunFilter | None) -> int:
    return int(s.execute(_filtered(select(func.count(Run.id)), flt)).scalar_one())


def epochs_of(s: Session, run_ids: Sequence[int]) -> dict[int, list[EpochRow]]:
    rows = s.execute(
        select(EpochMetric.run_id, *EPOCH_COLUMNS)
        .where(EpochMetric.run_id.in_(list(run_ids)))
        .order_by(EpochMetric.run_id, EpochMetric.epoch)
    )
    out: dict[int, list[EpochRow]] = {i: [] for i in run_ids}
    for run_id, *values in rows:
        out[run_id].append(EpochRow(*values))
    return out


def details(s: Session, run_ids: Sequence[int]) -> list[RunDetail]:
    """Full details of the given runs, in the given order; RunNotFound for a missing one."""
    runs = {r.id: r for r in s.scalars(select(Run).where(Run.id.in_(list(run_ids))))}
    for run_id in run_ids:
        if run_id not in runs:
            raise RunNotFound(run_id)
    tags = tags_for(s, run_ids)
    epochs = epochs_of(s, run_ids)
    attempts = attempts_of(s, run_ids)
    return [_detail(runs[i], tags.get(i, ()), epochs[i], attempts[i]) for i in run_ids]


def attempts_of(s: Session, run_ids: Sequence[int]) -> dict[int, list[AttemptRow]]:
    rows = s.execute(
        select(RunAttempt.run_id, RunAttempt.attempt, RunAttempt.worker_id, RunAttempt.host,
               RunAttempt.device, RunAttempt.started_at, RunAttempt.ended_at,
               RunAttempt.outcome, RunAttempt.reason)
        .where(RunAttempt.run_id.in_(list(run_ids)))
        .order_by(RunAttempt.run_id, RunAttempt.attempt)
    )
    out: dict[int, list[AttemptRow]] = {i: [] for i in run_ids}
    for run_id, *values in rows:
        out[run_id].append(AttemptRow(*values))
    return out


def _detail(run: Run, tags: tuple[str, ...], epochs: list[EpochRow],
            attempts: list[AttemptRow]) -> RunDetail:
    summary = {name: getattr(run, name) for name in SORTABLE}
    checkpoints = {
        kind: path
        for kind, path in (("best", run.checkpoint_best), ("last", run.checkpoint_last))
        if path
    }
    return RunDetail(
        **summary, tags=tags, config=dict(run.config or {}), notes=run.notes,
        notes_version=run.notes_version or 0,
        traceback=run.traceback, test_loss=run.test_loss, per_class_acc=run.per_class_acc,
        confusion=run.confusion, class_names=run.class_names, checkpoints=checkpoints,
        resume_checkpoint=run.resume_checkpoint, cancel_requested=bool(run.cancel_requested),
        host=run.host, torch_version=run.torch_version, git_commit=run.git_commit,
        worker_id=run.worker_id, num_params=run.num_params, steps_per_epoch=run.steps_per_epoch,
        weight_decay=run.weight_decay, grad_clip=run.grad_clip, epoch_rows=epochs,
        max_retries=run.max_retries, attempt=run.attempt, attempts=attempts,
    )


def steps_after(s: Session, run_id: int, after_step: int) -> list[StepRow]:
    rows = s.execute(
        select(StepMetric.step, StepMetric.epoch, StepMetric.loss, StepMetric.lr,
               StepMetric.wall_time)
        .where(StepMetric.run_id == run_id, StepMetric.step > after_step)
        .order_by(StepMetric.step)
    )
    return [StepRow(*r) for r in rows]


def compare(s: Session, run_ids: Sequence[int]) -> Comparison:
    ids = list(dict.fromkeys(run_ids))
    if not ids:
        raise BadFilter("compare needs at least one run id")
    runs = details(s, ids)
    keys = sorted({k for r in runs for k in r.config})
    diff = {}
    for key in keys:
        values = [r.config.get(key) for r in runs]
        if any(v != values[0] for v in values[1:]):
            diff[key] = values
    metrics = {m: [getattr(r, m) for r in runs] for m in COMPARED_METRICS}
    curves = {r.id: r.epoch_rows for r in runs}
    return Comparison(run_ids=ids, runs=runs, config_diff=diff, metrics=metrics, curves=curves)


EXPORT_RUN_FIELDS = (
    "id", "name", "status", "model", "dataset", "epochs", "batch_size", "max_lr", "weight_decay",
    "grad_clip", "optimizer", "width_mult", "best_val_acc", "final_val_acc", "test_acc",
    "test_loss", "duration_s", "images_per_s", "num_params", "device", "created_at",
    "started_at", "finished_at",
)
EXPORT_EPOCH_FIELDS = (
    "epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds",
    "epoch_images_per_s",
)


def export_rows(s: Session, run_ids: Sequence[int] | None) -> list[dict[str, Any]]:
    """One flat record per (run, epoch), run columns repeated; a run with no epochs gets
    one record with empty epoch columns. Loads straight into pandas."""
    stmt = select(*(getattr(Run, f) for f in EXPORT_RUN_FIELDS)).order_by(Run.id)
    if run_ids is not None:
        ids = list(dict.fromkeys(run_ids))
        stmt = stmt.where(Run.id.in_(ids))
    runs = s.execute(stmt).all()
    if run_ids is not None:
        present = {r.id for r in runs}
        missing = [i for i in ids if i not in present]
        if missing:
            raise RunNotFound(missing[0])
    all_ids = [r.id for r in runs]
    tags = tags_for(s, all_ids)
    epochs = epochs_of(s, all_ids) if all_ids else {}
    records: list[dict[str, Any]] = []
    for run in runs:
        mapping = dict(run._mapping)
        base = {"run_id": mapping.pop("id"), **mapping}
        for key in ("created_at", "started_at", "finished_at"):
            base[key] = base[key].isoformat() if base[key] is not None else None
        base["tags"] = ";".join(tags.get(run.id, ()))
        rows = epochs[run.id] or [None]
        for row in rows:
            values = [None] * len(EXPORT_EPOCH_FIELDS) if row is None else [
                row.epoch, row.train_loss, row.train_acc, row.val_loss, row.val_acc, row.lr,
                row.seconds, row.images_per_s,
            ]
            records.append({**base, **dict(zip(EXPORT_EPOCH_FIELDS, values, strict=True))})
    return records
