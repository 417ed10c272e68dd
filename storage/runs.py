"""RunStore: the one repository API over the run history. Callers never write SQL.

The session scope (and its error boundary) is in storage/session.py; reading and
annotating runs in storage/browse.py; leases, attempts and automatic retry in
storage/leases.py; here is the queue and each run's lifecycle.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine.config import RunConfig
from engine.device_match import accepted_requests
from engine.events import EpochMetrics, RunFinished, RunStarted, StepMetrics
from storage.errors import InvalidRunState, RunNotFound
from storage.leases import MAX_RETRIES, RunLeases, owner_of
from storage.leases import one_line as _one_line
from storage.records import ClaimedRun, Interruption
from storage.samples import SystemSamples
from storage.schema import EpochMetric, Run, RunAttempt, StepMetric, Tag
from storage.sweeps import SweepStore

STEP_FIELDS = ("epoch", "loss", "lr", "wall_time")
CLAIM_CANDIDATES = 20  # queued runs tried per claim (some may be pinned to another host)
EPOCH_FIELDS = (
    "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds", "images_per_s",
)


class RunStore(RunLeases, SystemSamples, SweepStore):
    """The one repository API: open it with a URL or path (see ``StoreSession``), then
    queue, claim, record and browse runs. Every failure is a ``StoreError``."""

    def _upsert(self, table: Any, keys: Sequence[str], fields: Sequence[str]) -> Any | None:
        """INSERT ... ON CONFLICT DO UPDATE where the dialect has it, else None."""
        dialect = {"sqlite": sqlite, "postgresql": postgresql}.get(self._dialect)
        if dialect is None:
            return None
        stmt = dialect.insert(table)
        return stmt.on_conflict_do_update(
            index_elements=list(keys), set_={f: stmt.excluded[f] for f in fields}
        )

    # -- queue and lifecycle ------------------------------------------------------

    def create_run(
        self, config: RunConfig, *, name: str | None = None, tags: Sequence[str] = (),
        claimed_by: str | None = None, max_retries: int = 0,
        sweep_id: int | None = None, trial_number: int | None = None,
    ) -> int:
        """Enqueue a run (status queued); the name defaults to e.g. ``resnet9-0042``.
        With ``claimed_by`` (a foreground run) it starts as running, owned by that
        worker id, in the same transaction, so no worker can claim it first.
        ``max_retries``: automatic requeues after an interruption (0 to 100)."""
        config.validate()
        if not 0 <= max_retries <= MAX_RETRIES:
            raise InvalidRunState(f"retries must be from 0 to {MAX_RETRIES}, got {max_retries}")
        values = {k: getattr(config, k) for k in (
            "model", "dataset", "epochs", "batch_size", "max_lr", "weight_decay", "grad_clip",
            "optimizer", "width_mult")}
        chosen = (name or config.name or "").strip()

        def work(s: Session) -> int:
            now = self._clock()
            run = Run(name=chosen or "?", status="queued", config=config.to_dict(),
                      requested_device=config.device, sweep_id=sweep_id,
                      trial_number=trial_number, created_at=now, queued_at=now,
                      max_retries=max_retries, attempt=1, **values)
            if claimed_by:
                run.status, run.worker_id = "running", claimed_by
                run.started_at = run.heartbeat_at = now
            s.add(run)
            s.flush()
            if not chosen:
                run.name = f"{config.model}-{run.id:04d}"
            # Tags differing only in case are one tag: the first spelling is kept.
            unique: dict[str, str] = {}
            for raw in tags:
                if raw.strip():
                    unique.setdefault(raw.strip().casefold(), raw.strip())
            for tag in unique.values():
                s.add(Tag(run_id=run.id, tag=tag))
            if claimed_by:
                s.flush()
                self._open_attempt(s, run.id, claimed_by, owner_of(claimed_by)[0], None)
            return run.id

        return self._write(work)

    def claim_next_run(
        self, worker_id: str, device: str | None = None, host: str = ""
    ) -> ClaimedRun | None:
        """Atomically move the oldest queued run this worker can train to running.

        ``device`` limits the claim to runs asking for it (see engine.device_match). On
        PostgreSQL the candidates are locked FOR UPDATE SKIP LOCKED, so workers on many
        hosts never wait on, or win, the same row; SQLite serialises writers anyway. A
        run to resume from a checkpoint this host cannot see, written on another host,
        is left for that host (no shared artifact root: the resume is pinned there)."""
        allowed = accepted_requests(device)

        def work(s: Session) -> ClaimedRun | None:
            passed: list[int] = []  # pinned to another host, or lost to another worker
            for _ in range(CLAIM_CANDIDATES):
                query = select(Run.id, Run.name, Run.config, Run.resume_checkpoint).where(
                    Run.status == "queued", Run.id.not_in(passed))
                if allowed is not None:
                    query = query.where(Run.requested_device.in_(allowed))
                # One row at a time: locking several would hide them all from a worker
                # claiming at the same moment, which then finds the queue "empty".
                query = query.order_by(Run.queued_at, Run.id).limit(1)
                if self._dialect == "postgresql":
                    query = query.with_for_update(skip_locked=True)
                row = s.execute(query).first()
                if row is None:
                    return None
                passed.append(row.id)
                if row.resume_checkpoint and self._pinned_elsewhere(
                        s, row.id, row.resume_checkpoint, host):
                    continue
                if self._take(s, row.id, worker_id, device, host):
                    return ClaimedRun(row.id, row.name, dict(row.config), row.resume_checkpoint)
            return None

        return self._write(work)

    def _take(self, s: Session, run_id: int, worker_id: str, device: str | None,
              host: str) -> bool:
        now = self._clock()
        values: dict[str, Any] = dict(
            status="running", worker_id=worker_id, heartbeat_at=now,
            started_at=func.coalesce(Run.started_at, now), cancel_requested=False,
            finished_at=None, error=None, traceback=None,
        )
        if device:
            values["device"] = device
        if host:
            values["host"] = host
        result = s.execute(
            update(Run).where(Run.id == run_id, Run.status == "queued").values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # another worker won it (no row locks on this backend)
            return False
        self._open_attempt(s, run_id, worker_id, host, device)
        return True

    @staticmethod
    def _pinned_elsewhere(s: Session, run_id: int, checkpoint: str, host: str) -> bool:
        """The checkpoint is not visible here and another host wrote it."""
        if not host or os.path.exists(checkpoint):
            return False
        wrote = s.execute(
            select(RunAttempt.host).where(RunAttempt.run_id == run_id)
            .order_by(RunAttempt.attempt.desc()).limit(1)
        ).scalar_one_or_none()
        return bool(wrote) and wrote != host

    def heartbeat(self, run_id: int, worker_id: str) -> bool:
        """Renew the worker's lease. True means stop: a cancel was requested, or the run
        is no longer this worker's running run (e.g. it was marked interrupted)."""

        def work(s: Session) -> bool:
            s.execute(update(Run).where(
                Run.id == run_id, Run.worker_id == worker_id, Run.status == "running"
            ).values(heartbeat_at=self._clock()).execution_options(synchronize_session=False))
            row = s.execute(select(Run.status, Run.worker_id, Run.cancel_requested)
                            .where(Run.id == run_id)).first()
            if row is None:
                raise RunNotFound(run_id)
            mine = row.status == "running" and row.worker_id == worker_id
            return bool(row.cancel_requested) or not mine

        return self._write(work)

    def record_start(
        self, run_id: int, started: RunStarted, *, git_commit: str | None = None
    ) -> None:
        values: dict[str, Any] = dict(
            device=started.device, host=started.host, torch_version=started.torch_version,
            num_params=started.num_params, total_steps=started.total_steps,
            steps_per_epoch=started.steps_per_epoch,
        )
        if git_commit:
            values["git_commit"] = git_commit

        def work(s: Session) -> None:
            self._status(s, run_id)
            self._set(s, run_id, **values)
            s.execute(update(RunAttempt).where(  # where this attempt really trains
                RunAttempt.run_id == run_id, RunAttempt.ended_at.is_(None),
            ).values(device=started.device, host=started.host)
                .execution_options(synchronize_session=False))

        self._write(work)

    def append_steps(self, run_id: int, steps: Sequence[StepMetrics]) -> None:
        """Insert a batch of step metrics in one statement. A step already stored
        (a resumed run replaying) is overwritten, so appending is idempotent."""
        if not steps:
            return
        rows = [{"run_id": run_id, "step": m.step, "epoch": m.epoch, "loss": m.loss, "lr": m.lr,
                 "wall_time": m.time} for m in steps]
        last = max(steps, key=lambda m: m.step)
        table = StepMetric.__table__
        stmt = self._upsert(table, ("run_id", "step"), STEP_FIELDS)

        def work(s: Session) -> None:
            self._status(s, run_id)  # RunNotFound rather than a foreign key error
            if stmt is None:  # portable fallback: delete then insert
                s.execute(delete(table).where(
                    table.c.run_id == run_id, table.c.step.in_([r["step"] for r in rows])))
            s.execute(stmt if stmt is not None else insert(table), rows)
            # Metrics arriving are a sign of life too: they renew the lease.
            self._set(s, run_id, current_step=last.step, current_epoch=last.epoch,
                      images_per_s=last.images_per_s, heartbeat_at=self._clock())

        self._write(work)

    def record_epoch(self, run_id: int, m: EpochMetrics) -> None:
        """Upsert one epoch's metrics; best and final val acc follow from all epochs."""
        table = EpochMetric.__table__
        row = {"run_id": run_id, "epoch": m.epoch, **{f: getattr(m, f) for f in EPOCH_FIELDS}}
        stmt = self._upsert(table, ("run_id", "epoch"), EPOCH_FIELDS)

        def work(s: Session) -> None:
            self._status(s, run_id)
            if stmt is None:
                s.execute(delete(table).where(table.c.run_id == run_id, table.c.epoch == m.epoch))
            s.execute(stmt if stmt is not None else insert(table), [row])
            best = select(func.max(EpochMetric.val_acc)).where(EpochMetric.run_id == run_id)
            final = (select(EpochMetric.val_acc).where(EpochMetric.run_id == run_id)
                     .order_by(EpochMetric.epoch.desc()).limit(1))
            self._set(s, run_id, current_epoch=m.epoch, best_val_acc=best.scalar_subquery(),
                      final_val_acc=final.scalar_subquery(), heartbeat_at=self._clock())

        self._write(work)

    def set_checkpoint(self, run_id: int, kind: str, path: str) -> None:
        if kind not in ("best", "last"):
            raise ValueError(f"checkpoint kind must be 'best' or 'last', got {kind!r}")
        self._write(lambda s: (self._status(s, run_id),
                               self._set(s, run_id, **{f"checkpoint_{kind}": path})))

    def finish_run(self, run_id: int, result: RunFinished) -> None:
        """Running (or interrupted, reporting late) -> completed, with the results."""
        values: dict[str, Any] = dict(
            final_val_acc=result.final_val_acc, test_acc=result.test_acc,
            test_loss=result.test_loss, per_class_acc=result.per_class_acc,
            confusion=result.confusion, class_names=list(result.class_names),
            images_per_s=result.images_per_s, error=None, traceback=None, cancel_requested=False,
        )
        if result.best_val_acc is not None:
            values["best_val_acc"] = result.best_val_acc
        for kind in ("best", "last"):
            if path := getattr(result, f"checkpoint_{kind}"):
                values[f"checkpoint_{kind}"] = path

        def work(s: Session) -> None:
            self._require(s, run_id, ("running", "interrupted"), "finished")
            self._end(s, run_id, "completed", **values)

        self._write(work)

    def fail_run(self, run_id: int, reason: str, traceback: str = "") -> None:
        def work(s: Session) -> None:
            self._require(s, run_id, ("queued", "running", "interrupted"), "failed")
            self._end(s, run_id, "failed", error=_one_line(reason) or "failed",
                      traceback=traceback or None, cancel_requested=False)

        self._write(work)

    def request_cancel(self, run_id: int) -> str:
        """Queued, interrupted, or running with its process gone: cancelled now
        ("cancelled"). Running: flag for its worker ("cancelling")."""

        def work(s: Session) -> str:
            status = self._require(s, run_id, ("queued", "running", "interrupted"), "cancelled")
            if status == "queued":
                self._set(s, run_id, status="cancelled", finished_at=self._clock())
                return "cancelled"
            if status == "interrupted" or self._holder_lost(s, run_id):
                self._end(s, run_id, "cancelled", cancel_requested=False)
                return "cancelled"
            self._set(s, run_id, cancel_requested=True)
            return "cancelling"

        return self._write(work)

    def cancel_requested(self, run_id: int) -> bool:
        with self._read() as s:
            flag = s.execute(select(Run.cancel_requested).where(Run.id == run_id)
                             ).scalar_one_or_none()
        if flag is None:
            raise RunNotFound(run_id)
        return bool(flag)

    def mark_cancelled(self, run_id: int) -> None:
        def work(s: Session) -> None:
            self._require(s, run_id, ("queued", "running", "interrupted"), "cancelled")
            self._end(s, run_id, "cancelled", cancel_requested=False)

        self._write(work)

    def mark_interrupted(self, run_id: int, what: str, preempted: bool = False) -> Interruption:
        """A running run stopped without ending (``what`` says why): requeued while it
        has retries left (always when ``preempted``), else interrupted with the fix; see
        ``RunLeases._interrupt``."""
        return self._write(lambda s: (self._require(s, run_id, ("running",), "interrupted"),
                                      self._interrupt(s, run_id, what, preempted=preempted))[1])

    def requeue_for_resume(self, run_id: int, checkpoint: str | None) -> None:
        """Interrupted, failed or cancelled -> queued again, keeping its metrics so far."""

        def work(s: Session) -> None:
            self._require(s, run_id, ("interrupted", "failed", "cancelled"), "resumed")
            self._set(s, run_id, status="queued", queued_at=self._clock(),
                      resume_checkpoint=checkpoint, cancel_requested=False, finished_at=None,
                      duration_s=None, worker_id=None, heartbeat_at=None, error=None,
                      traceback=None)

        self._write(work)
