"""Feed a run's training events into the store, batching step metrics.

Used by the worker (events from the training child) and by a foreground
`cifar-tui train` (events from the loop in-process).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

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
from engine.paths import host_name
from storage.errors import InvalidRunState, StoreError
from storage.records import Interruption
from storage.runs import RunStore
from worker.code_version import code_version
from worker.run_thread import RunThread

MAX_BUFFERED_STEPS = 5_000
FLUSH_SECONDS = 0.5  # steps reach the store within about a second
HEARTBEAT_SECONDS = 1.0  # lease renewal; the lease itself is 30 s (storage.leases)


class StoreRecorder:
    """Steps are buffered and written at most every ``flush_seconds`` (or when the
    buffer fills); anything else is written at once, after the buffered steps."""

    def __init__(self, store: RunStore, run_id: int, flush_seconds: float = FLUSH_SECONDS,
                 owns_store: bool = False, worker_id: str = "",
                 announce: Callable[[str], None] | None = None):
        self.store = store
        # Set by the process that ends runs: the end goes to the webhook, failures to this log.
        self.announce = announce
        self.run_id = run_id
        self.worker_id = worker_id  # who holds the run's lease
        self.flush_seconds = flush_seconds
        self.owns_store = owns_store
        self.last_flush = time.monotonic()
        self.done = False
        self._steps: list[StepMetrics] = []

    def handle(self, event: TrainingEvent) -> None:
        if self.done:
            return
        if isinstance(event, StepMetrics):
            self._steps.append(event)
            if (len(self._steps) >= MAX_BUFFERED_STEPS
                    or time.monotonic() - self.last_flush >= self.flush_seconds):
                self.flush()
            return
        self.flush()
        if isinstance(event, RunStarted):
            self.store.record_start(self.run_id, event, git_commit=code_version())
        elif isinstance(event, EpochMetrics):
            self.store.record_epoch(self.run_id, event)
        elif isinstance(event, CheckpointSaved):
            self.store.set_checkpoint(self.run_id, event.kind, event.path)
        elif isinstance(event, RunFinished):
            self.done = True
            self.store.finish_run(self.run_id, event)
            self._announce("completed", val_acc=event.final_val_acc)
        elif isinstance(event, RunFailed):
            self.done = True
            self.store.fail_run(self.run_id, event.reason, event.traceback)
            self._announce("failed", error=event.reason)
        elif isinstance(event, RunCancelled):
            self.done = True
            self.store.mark_cancelled(self.run_id)

    def _announce(self, status: str, val_acc: float | None = None,
                  error: str | None = None) -> None:
        """Tell the run's end (webhook), after it is recorded; never fails the run."""
        if self.announce is None:
            return
        from worker.notify import announce_end

        def name() -> str | None:  # read only when a webhook is set
            try:
                return self.store.get_run(self.run_id).name
            except StoreError:
                return None  # the message goes out without the name

        announce_end(self.run_id, name, status, val_acc, error, self.announce)

    def flush(self) -> None:
        if self._steps:
            steps, self._steps = self._steps, []
            self.store.append_steps(self.run_id, steps)
        self.last_flush = time.monotonic()

    def interrupt(self, what: str, preempted: bool = False) -> Interruption | None:
        """The run stopped without finishing (``what`` says why): it is requeued while
        it has retries left (always when ``preempted``), else interrupted. None if it had
        already ended."""
        if self.done:
            return None
        self.flush()
        self.done = True
        try:
            return self.store.mark_interrupted(self.run_id, what, preempted=preempted)
        except InvalidRunState:
            return None  # already ended some other way; that record stands

    def prune(self) -> None:
        """The sweep's pruner stopped the run: recorded as pruned, its metrics kept."""
        if self.done:
            return
        self.flush()
        self.done = True
        try:
            self.store.mark_pruned(self.run_id)
        except InvalidRunState:
            return  # already ended some other way; that record stands
        self._announce("pruned")

    def abandon(self) -> None:
        """The run is no longer ours (its lease went elsewhere): write nothing more."""
        self._steps.clear()
        self.done = True

    def close(self) -> None:
        """Write what is buffered; a run left unfinished is marked interrupted."""
        if not self.done:
            self.interrupt("training stopped before the run ended")
        if self.owns_store:
            self.store.close()


def open_foreground_run(db_url: str | None, config: RunConfig, *, name: str | None = None,
                        tags: tuple[str, ...] = (), flush_seconds: float = FLUSH_SECONDS,
                        max_retries: int = 0) -> StoreRecorder:
    """Record a run trained in this process (`cifar-tui train`): it is created
    already running, owned by this process, so no worker claims it."""
    store = RunStore(db_url)
    worker_id = f"{host_name()}:{os.getpid()}:foreground"
    run_id = store.create_run(config, name=name, tags=tags, claimed_by=worker_id,
                              max_retries=max_retries)
    return StoreRecorder(store, run_id, flush_seconds, owns_store=True, worker_id=worker_id)


class LeaseRenewer(RunThread):
    """Renew a run's lease every second from a daemon thread, as a worker does, so the
    run stays ours however long a step takes. ``on_stop`` hears "cancel" (someone asked)
    or "lost" (the run is no longer ours); a store error is retried on the next beat."""

    def __init__(self, store: RunStore, run_id: int, worker_id: str,
                 on_stop: Callable[[str], None], every: float = HEARTBEAT_SECONDS):
        super().__init__(name=f"lease-{run_id}")
        self.store, self.run_id, self.worker_id = store, run_id, worker_id
        self.on_stop, self.every = on_stop, every

    def _run(self) -> None:
        while not self._halt.wait(self.every):
            try:
                if self.store.heartbeat(self.run_id, self.worker_id):
                    cancel = self.store.cancel_requested(self.run_id)
                    self.on_stop("cancel" if cancel else "lost")
                    return
            except StoreError:
                continue  # a busy or briefly absent store: the lease has 30 s of slack
