"""Leases and automatic recovery: who holds each running run, and what happens when
its holder is gone.

A running run's ``worker_id`` is ``host:pid:...`` and ``heartbeat_at`` is its lease,
renewed every second by the worker (or the foreground `train`) that trains it. Any
process looking at the store calls ``reap_lost_runs``: a run whose process is on this
host is judged by asking that process (so a slow healthy run is never taken away,
however long it is silent); one on another host by its lease alone. A lost run is
interrupted, and requeued from its last checkpoint while it has retries left.
Each try at a run is a ``RunAttempt`` row, opened when it starts and closed when it ends.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from engine.formatting import first_line
from engine.paths import host_name
from storage.browse import RunBrowser
from storage.records import Interruption
from storage.schema import Run, RunAttempt

LEASE_SECONDS = 30.0  # a run on another host silent for longer is lost
LEASE_ENV = "CIFAR_TUI_LEASE_SECONDS"  # tests shorten it
MAX_RETRIES = 100  # the most automatic retries a run may ask for
DEFAULT_RETRIES = 1  # the CLI's and the form's: one automatic retry unless told otherwise


def lease_seconds() -> float:
    """The lease length: $CIFAR_TUI_LEASE_SECONDS when it is a positive number, else 30."""
    try:
        value = float(os.environ.get(LEASE_ENV) or LEASE_SECONDS)
    except ValueError:
        return LEASE_SECONDS
    return value if math.isfinite(value) and value > 0 else LEASE_SECONDS


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists here (signal 0 checks without sending)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    except (OverflowError, ValueError):
        return False
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """A killed process whose parent has not reaped it yet still answers signal 0; on
    Linux /proc tells it apart (state Z), so its run is not kept 'running' meanwhile."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False  # no /proc (macOS), or gone already: signal 0 has the last word
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def owner_of(worker_id: str | None) -> tuple[str, int | None]:
    """(host, pid) of a ``host:pid:...`` worker id; pid None when there is none."""
    host, _, rest = (worker_id or "").partition(":")
    pid = rest.partition(":")[0]
    return host, int(pid) if pid.isdecimal() and len(pid) <= 9 else None


def one_line(text: str) -> str:
    """A reason as the store keeps it: one line, at most 500 characters."""
    return first_line(text, 500)


_SEEN = func.coalesce(Run.heartbeat_at, Run.started_at, Run.created_at)


class RunLeases(RunBrowser):
    """Leases, the attempt history and automatic retry; ``RunStore`` adds the rest."""

    def reap_lost_runs(
        self, this_host: str | None = None, alive: Callable[[int], bool] = pid_alive,
        lease_s: float | None = None,
    ) -> list[Interruption]:
        """Interrupt (or requeue) every running run whose process is gone; what happened
        to each. Cheap when nothing is lost: one read, no write lock."""
        host = this_host or host_name()
        lease = lease_seconds() if lease_s is None else lease_s
        with self._read() as s:
            rows = s.execute(select(Run.id, Run.worker_id, _SEEN.label("seen"))
                             .where(Run.status == "running").order_by(Run.id)).all()
        now = self._clock()
        lost = [(r, age) for r in rows
                if (age := self._silent_for(r.worker_id, r.seen, now, host, alive, lease))
                is not None]
        if not lost:
            return []

        def work(s: Session) -> list[Interruption]:
            done = []
            for row, age in lost:
                current = s.execute(select(Run.status, Run.worker_id, _SEEN.label("seen"))
                                    .where(Run.id == row.id)).first()
                # Ended or renewed since the read: it is not ours to end.
                if current is None or tuple(current) != ("running", row.worker_id, row.seen):
                    continue
                done.append(self._interrupt(s, row.id, _lost_reason(row.worker_id, age), host))
            return done

        return self._write(work)

    @staticmethod
    def _silent_for(
        worker_id: str | None, seen: datetime | None, now: datetime, host: str,
        alive: Callable[[int], bool], lease: float,
    ) -> float | None:
        """Seconds the run's holder has been silent if it is lost, else None."""
        age = (now - seen).total_seconds() if seen is not None else math.inf
        owner_host, pid = owner_of(worker_id)
        if owner_host == host and pid is not None:
            return None if alive(pid) else max(age, 0.0)  # its process answers for it
        return age if age > lease else None

    def _holder_lost(self, s: Session, run_id: int) -> bool:
        """Whether a running run's holder is gone, by the same rules as the sweep."""
        row = s.execute(select(Run.worker_id, _SEEN.label("seen")).where(Run.id == run_id)).one()
        return self._silent_for(row.worker_id, row.seen, self._clock(), host_name(),
                                pid_alive, lease_seconds()) is not None

    # -- attempts ---------------------------------------------------------------

    def _open_attempt(self, s: Session, run_id: int, worker_id: str, host: str | None,
                      device: str | None) -> None:
        """A new attempt row; its number follows the last row (a manual resume) or the
        run's own count (an automatic requeue already moved it on)."""
        current = s.execute(select(Run.attempt).where(Run.id == run_id)).scalar_one()
        last = s.execute(select(func.max(RunAttempt.attempt))
                         .where(RunAttempt.run_id == run_id)).scalar()
        number = max(current or 1, (last or 0) + 1)
        if number != current:
            self._set(s, run_id, attempt=number)
        s.execute(insert(RunAttempt).values(
            run_id=run_id, attempt=number, worker_id=worker_id, host=host or None,
            device=device or None, started_at=self._clock()))

    def _close_attempt(self, s: Session, run_id: int, outcome: str, reason: str | None) -> None:
        s.execute(update(RunAttempt).where(
            RunAttempt.run_id == run_id, RunAttempt.ended_at.is_(None),
        ).values(ended_at=self._clock(), outcome=outcome, reason=reason)
            .execution_options(synchronize_session=False))

    def _end(self, s: Session, run_id: int, status: str, **values: Any) -> None:
        """End the run and its open attempt, with ``values`` (error is the reason)."""
        started = s.execute(select(Run.started_at).where(Run.id == run_id)).scalar_one()
        now = self._clock()
        duration = (now - started).total_seconds() if started is not None else None
        self._close_attempt(s, run_id, status, values.get("error"))
        self._set(s, run_id, status=status, finished_at=now, duration_s=duration, **values)

    # -- interruption and retry -------------------------------------------------

    def _interrupt(self, s: Session, run_id: int, what: str,
                   here: str | None = None, preempted: bool = False) -> Interruption:
        """A running run stopped without ending: requeue it while it has retries left,
        else leave it interrupted with the fix. A cancel asked for wins. ``here``: the
        host judging it (default this one), for whether its checkpoint is visible.
        ``preempted``: a scheduler took the node back (Slurm preemption, time-out,
        requeue); the run is requeued without spending a retry, however often it happens."""
        row = s.execute(select(Run.attempt, Run.max_retries, Run.checkpoint_last,
                               Run.cancel_requested, Run.worker_id).where(Run.id == run_id)).one()
        what = one_line(what) or "interrupted"
        if row.cancel_requested:
            self._close_attempt(s, run_id, "cancelled", what)
            self._end(s, run_id, "cancelled", cancel_requested=False, error=None)
            return Interruption(run_id, "cancelled", what, row.attempt)
        if row.attempt <= row.max_retries or preempted:
            number = row.attempt + 1
            budget = row.max_retries + (1 if preempted else 0)  # a free try: retries kept
            reason = (f"{what}; requeued (a preemption does not use a retry)" if preempted
                      else f"{what}; requeued automatically (attempt {number} of {budget + 1})")
            self._close_attempt(s, run_id, "interrupted", what)
            # Its place in the queue is kept: recovering runs go before newer ones.
            self._set(s, run_id, status="queued", attempt=number, max_retries=budget,
                      error=reason, traceback=None,
                      resume_checkpoint=_resumable(row.checkpoint_last, row.worker_id,
                                                   here or host_name()),
                      worker_id=None,
                      heartbeat_at=None, finished_at=None, duration_s=None)
            return Interruption(run_id, "queued", reason, row.attempt)
        reason = f"{what}; `cifar-tui resume {run_id}` continues it"
        self._close_attempt(s, run_id, "interrupted", what)  # the row says what happened
        self._end(s, run_id, "interrupted", error=reason)
        return Interruption(run_id, "interrupted", reason, row.attempt)


def _lost_reason(worker_id: str | None, silent_s: float) -> str:
    host, pid = owner_of(worker_id)
    who = f"on host {host}, pid {pid}," if pid is not None else f"{worker_id or '?'}"
    ago = f"{silent_s:.0f} s ago" if math.isfinite(silent_s) else "long ago"
    return f"its worker {who} stopped answering {ago}"


def _resumable(checkpoint: str | None, worker_id: str | None, here: str) -> str | None:
    """The last checkpoint to resume from; a deleted one means starting over, not failing.
    One another host wrote and this one cannot see is kept: without a shared artifact
    root it is on that host's disk, and the claim leaves the resume to that host."""
    if not checkpoint:
        return None
    if os.path.exists(checkpoint):
        return checkpoint
    writer, pid = owner_of(worker_id)
    return checkpoint if pid is not None and writer != here else None
