"""Sweeps in the store: the sweep rows, their runs, trial reservations and `pruned`.

The Optuna side (the study that steers a tpe or random sweep) is in storage/studies.py;
when a trial is asked and told is the worker's business (worker/sweeps.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine.config import RunConfig
from storage.errors import InvalidRunState, SweepNotFound
from storage.records import SweepRecord, SweepRunRow
from storage.schema import EpochMetric, Run, Sweep
from storage.session import check_id


class SweepStore:
    """Mixed into RunStore (which supplies ``_write``, ``_read``, ``_clock``, ``create_run``)."""

    def create_sweep(self, *, name: str | None, method: str, metric: str, goal: str,
                     spec: dict[str, Any], n_trials: int, repeat: int = 1,
                     prune: bool = False) -> int:
        """A new active sweep; its study is named after its id (``cifar-tui-sweep-ID``)."""
        def work(s: Session) -> int:
            sweep = Sweep(name=(name or "").strip() or "?", method=method, metric=metric,
                          goal=goal, spec=spec, status="active", n_trials=n_trials,
                          repeat=repeat, prune=prune, trials_asked=0, study_name="?",
                          created_at=self._clock())
            s.add(sweep)
            s.flush()
            sweep.study_name = f"cifar-tui-sweep-{sweep.id}"
            if sweep.name == "?":
                sweep.name = f"sweep-{sweep.id}"
            return sweep.id

        return self._write(work)

    def reserve_trials(self, sweep_id: int, count: int = 1) -> int | None:
        """Take the next ``count`` trial numbers of an active sweep, atomically, so workers
        on many hosts never ask for more trials than it has. The first number, or None
        when the sweep is full or no longer active."""
        def work(s: Session) -> int | None:
            result = s.execute(
                update(Sweep).where(Sweep.id == sweep_id, Sweep.status == "active",
                                    Sweep.trials_asked + count <= Sweep.n_trials)
                .values(trials_asked=Sweep.trials_asked + count)
                .execution_options(synchronize_session=False))
            if result.rowcount != 1:
                return None
            asked = s.execute(select(Sweep.trials_asked).where(Sweep.id == sweep_id)).scalar_one()
            return asked - count

        return self._write(work)

    def add_trial_runs(self, sweep_id: int, trial_number: int, configs: Sequence[RunConfig],
                       names: Sequence[str], tags: Sequence[str] = (),
                       max_retries: int = 0) -> list[int]:
        """Queue one trial's runs (one per seed), tied to the sweep."""
        return [self.create_run(config, name=name, tags=tags, sweep_id=sweep_id,
                                trial_number=trial_number, max_retries=max_retries)
                for config, name in zip(configs, names, strict=True)]

    def get_sweep(self, sweep_id: int) -> SweepRecord:
        check_id(sweep_id)
        with self._read() as s:
            row = s.get(Sweep, sweep_id)
            if row is None:
                raise SweepNotFound(sweep_id)
            return _record(row, _run_counts(s, [sweep_id]).get(sweep_id, {}))

    def list_sweeps(self, status: str | None = None) -> list[SweepRecord]:
        """Newest first."""
        with self._read() as s:
            query = select(Sweep).order_by(Sweep.id.desc())
            if status:
                query = query.where(Sweep.status == status)
            rows = list(s.scalars(query))
            counts = _run_counts(s, [r.id for r in rows])
            return [_record(r, counts.get(r.id, {})) for r in rows]

    def sweep_runs(self, sweep_id: int) -> list[SweepRunRow]:
        """Every run of the sweep, by trial then id, with what a trial is judged by."""
        check_id(sweep_id)
        with self._read() as s:
            # Per run (correlated), not a GROUP BY over every run's epochs: this is read
            # about once a second by each worker while a sweep is active.
            min_loss = (select(func.min(EpochMetric.val_loss))
                        .where(EpochMetric.run_id == Run.id).scalar_subquery().label("loss"))
            rows = s.execute(
                select(Run.id, Run.name, Run.status, Run.trial_number, Run.config,
                       Run.best_val_acc, Run.test_acc, min_loss, Run.duration_s)
                .where(Run.sweep_id == sweep_id).order_by(Run.trial_number, Run.id)).all()
            # One read, not get_sweep's extra two (settle calls this every second).
            if not rows and s.get(Sweep, sweep_id) is None:
                raise SweepNotFound(sweep_id)
        return [SweepRunRow(r.id, r.name, r.status, r.trial_number, dict(r.config),
                            r.best_val_acc, r.test_acc, r.loss, r.duration_s) for r in rows]

    def sweep_of_run(self, run_id: int) -> tuple[SweepRecord, int] | None:
        """The sweep a run belongs to and its trial number, or None."""
        with self._read() as s:
            row = s.execute(select(Run.sweep_id, Run.trial_number)
                            .where(Run.id == run_id)).first()
        if row is None or row.sweep_id is None:
            return None
        try:
            return self.get_sweep(row.sweep_id), row.trial_number
        except SweepNotFound:
            return None

    def release_trials(self, sweep_id: int, count: int = 1) -> None:
        """Give back reserved trial numbers that were never asked (the ask failed)."""
        self._write(lambda s: s.execute(
            update(Sweep).where(Sweep.id == sweep_id, Sweep.trials_asked >= count)
            .values(trials_asked=Sweep.trials_asked - count)
            .execution_options(synchronize_session=False)))

    def set_trials_told(self, sweep_id: int, told: int) -> None:
        self._write(lambda s: s.execute(
            update(Sweep).where(Sweep.id == sweep_id).values(trials_told=told)
            .execution_options(synchronize_session=False)))

    def sweeps_to_settle(self) -> list[SweepRecord]:
        """Active sweeps, and ended ones with trials the study still holds as running."""
        with self._read() as s:
            rows = list(s.scalars(select(Sweep).where(
                (Sweep.status == "active") | (Sweep.trials_told < Sweep.trials_asked))
                .order_by(Sweep.id)))
            return [_record(r, {}) for r in rows]

    def queued_in_sweep(self, sweep_id: int) -> int:
        with self._read() as s:
            return s.execute(select(func.count()).select_from(Run).where(
                Run.sweep_id == sweep_id, Run.status == "queued")).scalar_one()

    def end_sweep(self, sweep_id: int, status: str) -> bool:
        """Active -> completed or cancelled; False when it had already ended."""
        def work(s: Session) -> bool:
            result = s.execute(update(Sweep).where(Sweep.id == sweep_id, Sweep.status == "active")
                               .values(status=status, finished_at=self._clock())
                               .execution_options(synchronize_session=False))
            return result.rowcount == 1

        return self._write(work)

    def cancel_sweep(self, sweep_id: int) -> str:
        """No more trials; queued runs cancelled now, running ones asked to stop."""
        sweep = self.get_sweep(sweep_id)
        if sweep.status != "active":
            raise InvalidRunState(f"sweep {sweep_id} is already {sweep.status}; nothing to cancel")
        self.end_sweep(sweep_id, "cancelled")
        words = {"cancelled": 0, "cancelling": 0}
        for run in self.sweep_runs(sweep_id):
            if run.status in ("queued", "running", "interrupted"):
                try:
                    words[self.request_cancel(run.run_id)] += 1
                except InvalidRunState:
                    continue  # it ended meanwhile
        return (f"sweep {sweep_id} cancelled: {words['cancelled']} run(s) cancelled, "
                f"{words['cancelling']} running run(s) stopping")

    def mark_pruned(self, run_id: int) -> None:
        """Running -> pruned: the sweep's pruner stopped it; its metrics are kept."""
        def work(s: Session) -> None:
            self._require(s, run_id, ("running",), "pruned")
            self._end(s, run_id, "pruned", cancel_requested=False,
                      error="pruned: the sweep's pruner stopped it early")

        self._write(work)


def _run_counts(s: Session, sweep_ids: list[int]) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = {}
    if not sweep_ids:
        return counts
    for sweep_id, status, n in s.execute(
            select(Run.sweep_id, Run.status, func.count()).where(Run.sweep_id.in_(sweep_ids))
            .group_by(Run.sweep_id, Run.status)):
        counts.setdefault(sweep_id, {})[status] = n
    return counts


def _record(row: Sweep, counts: dict[str, int]) -> SweepRecord:
    return SweepRecord(
        id=row.id, name=row.name, method=row.method, metric=row.metric, goal=row.goal,
        status=row.status, spec=dict(row.spec), n_trials=row.n_trials, repeat=row.repeat,
        prune=bool(row.prune), trials_asked=row.trials_asked,
        trials_told=row.trials_told, study_name=row.study_name,
        created_at=row.created_at, finished_at=row.finished_at, run_counts=dict(counts))
