"""CSV and JSON exports, and the run data every export format reads.

One flat record per (run, epoch), the run's columns repeated, so a file loads straight into
pandas: the store's run columns, tags, notes, each class's test accuracy, every field of
the field table (engine.config.FIELDS), then the epoch's metrics. An epoch that has logged
steps but no epoch metrics yet (a run still in it, or stopped in it) gets a record of its
own, so no step is left without one. JSON records also carry their epoch's steps.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.config import RunConfig
from storage.queries import EXPORT_EPOCH_FIELDS

if TYPE_CHECKING:
    from storage import RunDetail, StepRow

# The scalars the event-file and MLflow exports carry, per epoch and at the end.
EPOCH_SCALARS = ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "images_per_s")
FINAL_METRICS = ("best_val_acc", "final_val_acc", "test_acc", "test_loss", "images_per_s",
                 "duration_s")
EXTRA_HINT = "pip install 'cifar-tui[export]'"


class ExportError(Exception):
    """A one-line problem with an export (a missing library, a bad target); the CLI prints
    it and exits with code 2."""


def require(module: str, purpose: str) -> Any:
    """Import ``module`` or say, in one line, which extra brings it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        top = module.split(".")[0]
        raise ExportError(f"{purpose} needs {top}, which is not installed; "
                          f"install the export extra: {EXTRA_HINT}") from None


@dataclass(frozen=True)
class RunExport:
    """One run as the exports read it: its detail (config, results, epochs) and steps."""

    detail: RunDetail
    steps: list[StepRow]

    def epoch_times(self) -> dict[int, float | None]:
        """Unix seconds at which each epoch ended: its last step's wall time where the
        store has it, else the run's start plus the epochs' seconds so far."""
        last_step: dict[int, float] = {}
        for step in self.steps:
            if step.wall_time is not None:
                last_step[step.epoch] = step.wall_time
        started = self.detail.started_at.timestamp() if self.detail.started_at else None
        elapsed = 0.0
        times: dict[int, float | None] = {}
        for row in self.detail.epoch_rows:
            elapsed += row.seconds or 0.0
            fallback = started + elapsed if started is not None else None
            times[row.epoch] = last_step.get(row.epoch, fallback)
        return times

    def per_class(self) -> dict[str, float]:
        """Test accuracy by class name (by index where the run has no names)."""
        accs = self.detail.per_class_acc or []
        names = self.detail.class_names or [str(i) for i in range(len(accs))]
        return dict(zip(names, accs, strict=False))


def load_runs(store: Any, run_ids: list[int] | None) -> list[RunExport]:
    """The given runs (all when None), oldest first; RunNotFound for an unknown id."""
    if run_ids is None:
        run_ids = sorted({row["run_id"] for row in store.export_rows(None)})
    return [RunExport(store.get_run(i), store.get_steps(i)) for i in dict.fromkeys(run_ids)]


def scalars(run: RunExport) -> Iterator[tuple[str, float, int, float | None]]:
    """(tag, value, step, wall time): per epoch under ``epoch/``, per step under ``step/``."""
    times = run.epoch_times()
    for row in run.detail.epoch_rows:
        for name in EPOCH_SCALARS:
            value = getattr(row, name)
            if value is not None:
                yield f"epoch/{name}", value, row.epoch, times.get(row.epoch)
    for step in run.steps:
        yield "step/loss", step.loss, step.step, step.wall_time
        yield "step/lr", step.lr, step.step, step.wall_time


def final_metrics(run: RunExport) -> dict[str, float]:
    """The HParams view's metric columns: the run's results, where it has them."""
    d = run.detail
    values = {f"final/{name}": getattr(d, name) for name in FINAL_METRICS}
    values.update({f"final/test_acc_{slug(k)}": v for k, v in run.per_class().items()})
    return {k: float(v) for k, v in values.items() if v is not None}


def slug(text: str) -> str:
    """A name safe in a file name or column name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "run"


def table_records(store: Any, run_ids: list[int] | None,
                  with_steps: bool = False) -> list[dict[str, Any]]:
    """The CSV/JSON records (see the module's docstring); every record has every column."""
    rows = store.export_rows(run_ids)
    runs = {r.detail.id: r for r in load_runs(store, [row["run_id"] for row in rows])}
    classes = list(dict.fromkeys(name for r in runs.values() for name in r.per_class()))
    records: list[dict[str, Any]] = []
    for run_rows in _by_run(rows):
        run = runs[run_rows[0]["run_id"]]
        extra = _run_columns(run, classes)
        for row in _with_step_epochs(run_rows, run):
            cut = list(row).index("epoch")
            items = list(row.items())
            record = dict(items[:cut] + [(k, v) for k, v in extra.items() if k not in row]
                          + items[cut:])
            if with_steps:
                record["steps"] = [
                    {"step": s.step, "loss": s.loss, "lr": s.lr, "wall_time": s.wall_time}
                    for s in run.steps if s.epoch == row["epoch"]]
            records.append(record)
    return records


def _by_run(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    groups: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["run_id"], []).append(row)
    return list(groups.values())


def _run_columns(run: RunExport, classes: list[str]) -> dict[str, Any]:
    """The columns beyond the store's export rows: notes, run facts, per-class accuracy and
    every config field. Old runs get the table's defaults for fields added since."""
    d = run.detail
    settings = RunConfig.from_dict(d.config).to_dict()
    per_class = run.per_class()
    return {
        "notes": d.notes or "", "error": d.error, "host": d.host,
        "torch_version": d.torch_version, "git_commit": d.git_commit,
        "steps_per_epoch": d.steps_per_epoch, "total_steps": d.total_steps,
        # The store's `device` column is where the run trained; this is what it asked for.
        "requested_device": settings["device"],
        **{f"test_acc_{slug(name)}": per_class.get(name) for name in classes},
        **settings,
    }


def _with_step_epochs(run_rows: list[dict[str, Any]], run: RunExport) -> list[dict[str, Any]]:
    """The run's rows plus one for each epoch with steps but no epoch metrics."""
    have = {row["epoch"] for row in run_rows if row["epoch"] is not None}
    missing = sorted({s.epoch for s in run.steps} - have)
    if not missing:
        return run_rows
    base = {k: v for k, v in run_rows[0].items() if k not in EXPORT_EPOCH_FIELDS}
    blank = dict.fromkeys(EXPORT_EPOCH_FIELDS)
    added = [{**base, **blank, "epoch": n} for n in missing]
    kept = [row for row in run_rows if row["epoch"] is not None]
    return sorted(kept + added, key=lambda row: row["epoch"])


def render(records: list[dict[str, Any]], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(records, indent=1, default=str) + "\n"
    buffer = io.StringIO()
    if records:
        writer = csv.DictWriter(buffer, fieldnames=list(records[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
    return buffer.getvalue()
