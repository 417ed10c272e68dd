"""Steering sweeps: queue one, ask Optuna for trials as workers free up, tell it how
each trial's runs ended, and stop a run its pruner gives up on.

Every sweep has an Optuna study in the store's database. A grid's points are enqueued
and asked at once, so all its runs queue together. A tpe or random sweep asks one trial
whenever a worker looks for work and the sweep has nothing queued: each trial is chosen
knowing every trial told so far. Telling is idempotent (``settle``), so whichever worker,
host or command sees a trial's runs end tells it, and a killed run is told as failed.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.config import ConfigError
from engine.sweep_spec import SweepSpec, SweepSpecError
from storage.records import TERMINAL_STATUSES, SweepRecord, SweepRunRow

if TYPE_CHECKING:
    from engine.events import EpochMetrics
    from storage.runs import RunStore

ENDED_BADLY = ("failed", "cancelled", "interrupted")
ORPHAN_AFTER_S = 600.0  # a trial asked this long ago with no runs will never get any
_STUDIES: dict[tuple[str, str, str], Any] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class TrialRow:
    number: int
    params: dict[str, Any]
    value: float | None
    state: str  # running, complete, pruned, fail or waiting (its runs are all queued)
    run_ids: list[int] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    pruned_at: int | None = None  # the epoch a pruned trial's value was scored at

    @property
    def value_text(self) -> str:
        """The value as a table shows it; a pruned trial's with its epoch (0.41@e2)."""
        if self.value is None:
            return "-"
        return f"{self.value:.4g}" + (f"@e{self.pruned_at}" if self.pruned_at is not None else "")


@dataclass(frozen=True)
class SweepSummary:
    record: SweepRecord
    trials: list[TrialRow]  # best first
    best: TrialRow | None
    best_so_far: list[tuple[int, float]]  # (trial number, best value up to it)
    importances: dict[str, float]  # tpe with two or more complete trials


def study_of(store: RunStore, record: SweepRecord, create: bool = False) -> Any:
    from storage.studies import open_study

    key = (store.url, store.store_id, record.study_name)
    with _LOCK:
        if create or key not in _STUDIES:
            _STUDIES[key] = open_study(store.url, store.store_id, record.study_name,
                                       goal=record.goal,
                                       method=record.method, prune=record.prune, create=create)
        return _STUDIES[key]


# -- queueing and asking --------------------------------------------------------------

def queue_sweep(store: RunStore, spec: SweepSpec) -> tuple[int, list[int]]:
    """Record the sweep and its study; a grid queues every run now (their ids)."""
    from storage.studies import ask, distributions

    points = spec.grid_points() if spec.method == "grid" else []
    for point in points:  # refuse a bad combination before anything is written
        spec.configs_for(point)
    sweep_id = store.create_sweep(
        name=spec.name, method=spec.method, metric=spec.metric, goal=spec.goal,
        spec=spec.to_dict(), n_trials=spec.trial_count(), repeat=spec.repeat, prune=spec.prune)
    record = store.get_sweep(sweep_id)
    study = study_of(store, record, create=True)
    if spec.method != "grid":
        return sweep_id, []
    store.reserve_trials(sweep_id, len(points))
    dists = distributions(spec.values, {})
    run_ids: list[int] = []
    for point in points:
        number, params = ask(study, dists, fixed=point)
        run_ids += _queue_trial(store, record, spec, number, params)
    return sweep_id, run_ids


def _queue_trial(store: RunStore, record: SweepRecord, spec: SweepSpec, number: int,
                 params: dict[str, Any]) -> list[int]:
    configs = spec.configs_for(params)
    names = [f"{record.name}-t{number:02d}" + (f"-s{c.seed}" if spec.repeat > 1 else "")
             for c in configs]
    return store.add_trial_runs(record.id, number, configs, names, tags=spec.tags,
                                max_retries=spec.retries)


def top_up(store: RunStore, log: Callable[[str], None] = print) -> list[int]:
    """Ask one more trial of each tpe/random sweep with nothing queued and trials left;
    the new runs' ids. Called by a worker looking for work."""
    from storage.studies import ask, distributions, tell

    created: list[int] = []
    for record in store.list_sweeps(status="active"):
        if record.method == "grid" or record.trials_asked >= record.n_trials:
            continue
        if store.queued_in_sweep(record.id) or store.reserve_trials(record.id) is None:
            continue
        spec = SweepSpec.from_dict(record.spec)
        study = study_of(store, record)
        try:
            number, params = ask(study, distributions(spec.values, spec.ranges))
        except Exception:
            store.release_trials(record.id)
            raise
        try:
            created += _queue_trial(store, record, spec, number, params)
        except (SweepSpecError, ConfigError) as exc:  # a sampled point the config refuses
            tell(study, number, "fail")
            log(f"sweep {record.id}: trial {number} refused ({exc}); told as failed")
            continue
        log(f"sweep {record.id}: asked trial {number} ({_words(params)})")
    return created


# -- telling --------------------------------------------------------------------------

def settle(store: RunStore, log: Callable[[str], None] = print,
           orphan_after_s: float = ORPHAN_AFTER_S) -> None:
    """Tell the study every trial whose runs have all ended; a sweep whose trials are all
    asked and told is completed."""
    from storage.studies import stale_trials, tell, trial_states

    for record in store.sweeps_to_settle():
        study = study_of(store, record)
        by_trial = _by_trial(store.sweep_runs(record.id))
        for number in stale_trials(study, set(by_trial), orphan_after_s):
            tell(study, number, "fail")
            log(f"sweep {record.id}: trial {number} has no runs (whoever asked it stopped "
                "before queueing them); told as failed")
        told = 0
        for number, (state, _, _) in trial_states(study).items():
            runs = by_trial.get(number, [])
            if state != "running" or not runs or any(
                    r.status not in TERMINAL_STATUSES for r in runs):
                told += state in ("complete", "pruned", "fail")
                continue
            outcome, value = judge(record, runs)
            tell(study, number, outcome, value)
            told += 1
            log(f"sweep {record.id}: trial {number} {outcome}"
                + (f" ({record.metric} {value:.4g})" if value is not None else ""))
        if told != record.trials_told:
            store.set_trials_told(record.id, told)
        if (record.status == "active" and record.trials_asked >= record.n_trials
                and told >= record.trials_asked and store.end_sweep(record.id, "completed")):
            log(f"sweep {record.id}: completed")


def metric_value(metric: str, run: SweepRunRow) -> float | None:
    return {"val_acc": run.best_val_acc, "test_acc": run.test_acc,
            "val_loss": run.min_val_loss}[metric]


def judge(record: SweepRecord, runs: Sequence[SweepRunRow]) -> tuple[str, float | None]:
    """How a trial ended: failed if any seed did not finish, pruned if its run was
    pruned, else complete with the mean of its seeds' metric."""
    statuses = {r.status for r in runs}
    if statuses & set(ENDED_BADLY):
        return "fail", None
    if "pruned" in statuses:
        return "pruned", None
    values = [metric_value(record.metric, r) for r in runs]
    if any(v is None for v in values):
        return "fail", None
    return "complete", statistics.fmean(values)  # type: ignore[arg-type]


def _by_trial(runs: Sequence[SweepRunRow]) -> dict[int, list[SweepRunRow]]:
    out: dict[int, list[SweepRunRow]] = {}
    for run in runs:
        out.setdefault(run.trial_number, []).append(run)
    return out


def _words(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in params.items()) or "no parameters"


class Steering:
    """A worker process's steering: tell Optuna how ended trials went, then ask new trials
    of tpe/random sweeps with nothing queued, so a free slot finds one. At most once per
    ``every`` seconds (unless forced, after a run); a busy store or a bad sweep is logged,
    never fatal."""

    def __init__(self, store: RunStore, log: Callable[[str], None], every: float = 1.0):
        self.store, self.log, self.every = store, log, every
        self.lock = threading.Lock()
        self.steered_at = float("-inf")

    def steer(self, force: bool = False) -> None:
        with self.lock:
            now = time.monotonic()
            if not force and now - self.steered_at < self.every:
                return
            self.steered_at = now
            try:
                settle(self.store, self.log)
                top_up(self.store, self.log)
            except Exception as exc:  # the sweep waits; the worker and its runs go on
                self.log(f"could not steer sweeps: {type(exc).__name__}: {exc}")


# -- pruning --------------------------------------------------------------------------

class PruneJudge:
    """Reports a sweep run's epochs to its study; says when the pruner stops it."""

    def __init__(self, store: RunStore, run_id: int):
        self.store = store
        found = store.sweep_of_run(run_id)
        self.record, self.number = found if found else (None, None)

    @property
    def active(self) -> bool:
        return self.record is not None and self.record.prune and self.number is not None

    def epoch_ended(self, metrics: EpochMetrics) -> bool:
        from storage.studies import report

        if not self.active:
            return False
        value = metrics.val_loss if self.record.metric == "val_loss" else metrics.val_acc
        if value is None:
            return False
        return report(study_of(self.store, self.record), self.number, float(value),
                      metrics.epoch)


# -- reading a sweep ------------------------------------------------------------------

def summarize(store: RunStore, sweep_id: int) -> SweepSummary:
    """The sweep's trials best first, the best one, best-so-far and (tpe) importances."""
    from storage.studies import importances, pruned_epochs, states_of, trials_of

    record = store.get_sweep(sweep_id)
    study = study_of(store, record)
    by_trial = _by_trial(store.sweep_runs(sweep_id))
    rows = []
    trials = trials_of(study)  # one read for the states and the pruned trials' epochs
    pruned_at = pruned_epochs(trials)
    for number, (state, value, params) in sorted(states_of(trials).items()):
        runs = by_trial.get(number, [])
        if state == "running" and runs and all(r.status == "queued" for r in runs):
            state = "waiting"
        rows.append(TrialRow(number, params, value, state, [r.run_id for r in runs],
                             [r.status for r in runs], pruned_at.get(number)))
    sign = -1.0 if record.goal == "max" else 1.0
    complete = [r for r in rows if r.state == "complete" and r.value is not None]
    best = min(complete, key=lambda r: sign * r.value) if complete else None  # type: ignore
    order = {"complete": 0, "running": 1, "waiting": 2, "pruned": 3, "fail": 4}
    rows.sort(key=lambda r: (order.get(r.state, 5),
                             sign * r.value if r.value is not None else 0.0, r.number))
    return SweepSummary(record, rows, best, _best_so_far(complete, sign),
                        importances(study) if record.method == "tpe" else {})


def _best_so_far(complete: Sequence[TrialRow], sign: float) -> list[tuple[int, float]]:
    out: list[tuple[int, float]] = []
    for row in sorted(complete, key=lambda r: r.number):
        value = float(row.value)  # type: ignore[arg-type]
        if out and sign * out[-1][1] <= sign * value:
            value = out[-1][1]
        out.append((row.number, value))
    return out
