"""Write one run's training events into the store, batching the step metrics.

The worker and the foreground `train` command both record through this, so a
run looks the same in the store however it was trained.
"""

from __future__ import annotations

import os
import socket
import time

from engine.config import RunConfig
from engine.events import (
    CheckpointSaved,
    EpochMetrics,
    RunCancelled,
    RunFailed,
    RunFinished,
    RunStarted,
    StepMetrics,
    TrainingEvent,
)
from storage.runs import RunStore

FLUSH_SECONDS = 0.5  # step metrics reach the store within about a second


class StoreRecorder:
    """Relays events to one run's record; steps are written in batches."""

    def __init__(self, store: RunStore, run_id: int, flush_seconds: float = FLUSH_SECONDS):
        self.store = store
        self.run_id = run_id
        self.flush_seconds = flush_seconds
        self.pending: list[StepMetrics] = []
        self.last_flush = time.monotonic()
        self.final: TrainingEvent | None = None

    @property
    def done(self) -> bool:
        return self.final is not None

    def handle(self, event: TrainingEvent) -> None:
        if isinstance(event, StepMetrics):
            self.pending.append(event)
            if time.monotonic() - self.last_flush >= self.flush_seconds:
                self.flush()
            return
        self.flush()
        if isinstance(event, RunStarted):
            self.store.record_start(self.run_id, event)
        elif isinstance(event, EpochMetrics):
            self.store.record_epoch(self.run_id, event)
        elif isinstance(event, CheckpointSaved):
            self.store.set_checkpoint(self.run_id, event.kind, event.path)
        elif isinstance(event, RunFinished):
            self.store.finish_run(self.run_id, event)
            self.final = event
        elif isinstance(event, RunFailed):
            self.store.fail_run(self.run_id, event.reason, event.traceback)
            self.final = event
        elif isinstance(event, RunCancelled):
            self.store.mark_cancelled(self.run_id)
            self.final = event

    def flush(self) -> None:
        if self.pending:
            self.store.append_steps(self.run_id, self.pending)
            self.pending = []
        self.last_flush = time.monotonic()

    def interrupt(self, reason: str) -> None:
        self.flush()
        self.store.mark_interrupted(self.run_id, reason)
        self.final = RunCancelled(step=0, epoch=0)

    def close(self) -> None:
        """Flush; a run that never reached an outcome is kept as interrupted, not lost."""
        self.flush()
        if self.final is None:
            self.store.mark_interrupted(
                self.run_id, f"training stopped before it finished; `cifar-tui resume {self.run_id}` continues it")


def open_foreground_run(db_url: str | None, config: RunConfig) -> StoreRecorder:
    """Record a run trained in this process (`cifar-tui train`): created already running."""
    store = RunStore(db_url)
    worker_id = f"{socket.gethostname()}:{os.getpid()}:foreground"
    run_id = store.start_run_now(config, worker_id=worker_id, host=socket.gethostname())
    return StoreRecorder(store, run_id)
