"""The worker outlives a store it cannot write (a full disk, a lost server): each store
call of a run's supervision is retried a few times, and when the store still fails the
run's training is stopped and the run recorded as interrupted if the store allows it.
Either way the worker logs one line and goes on; it never dies with a traceback.

Every store write is its own transaction and idempotent (steps and epochs are upserts),
so a retried call never records anything twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from storage.errors import (
    InvalidRunState,
    StoreBusy,
    StoreDiskFull,
    StoreError,
    StoreInternalError,
    StoreUnavailable,
)

# What may pass: a full disk freed, a restarted server, a lock released.
TRANSIENT = (StoreDiskFull, StoreBusy, StoreUnavailable, StoreInternalError)
RETRY_DELAYS_S = (0.5, 1.0, 2.0)  # then give up: about 3.5 s in all
RECORD_RETRY_S = 5.0  # how often a stopped run's interruption is offered to the store again


class RetryingStore:
    """A ``RunStore`` whose methods retry a transient ``StoreError`` after each of
    ``delays``; the last error goes on to the caller. Anything else passes through."""

    def __init__(self, store: Any, log: Callable[[str], None],
                 delays: tuple[float, ...] = RETRY_DELAYS_S):
        self._store, self._log, self._delays = store, log, delays

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._store, name)
        if not callable(value):
            return value

        def retried(*args: Any, **kwargs: Any) -> Any:
            for attempt, delay in enumerate((*self._delays, None), start=1):
                try:
                    return value(*args, **kwargs)
                except TRANSIENT as exc:
                    if delay is None:
                        raise
                    self._log(f"store write failed ({exc}); retry {attempt} of "
                              f"{len(self._delays)} in {delay:g} s")
                    time.sleep(delay)
            raise AssertionError("unreachable")

        return retried


def follow_surviving_the_store(supervision: Any, wait_s: float = RECORD_RETRY_S) -> None:
    """``supervision.follow()``; when the store still fails after its retries, stop the
    child and record the run as interrupted (resumable from its last checkpoint), trying
    again every ``wait_s`` until the store takes it: the worker could claim nothing meanwhile
    anyway, and its live pid would keep the run's lease from ever expiring."""
    try:
        supervision.follow()
    except StoreError as exc:
        _stop_child(supervision.child, supervision.stop_flag)
        supervision.events.close()
        supervision.recorder.abandon()  # nothing more from this run reaches the store
        _record_interrupted(supervision, f"its store could not be written ({exc})", wait_s)


def _record_interrupted(supervision: Any, what: str, wait_s: float) -> None:
    worker, run_id = supervision.worker, supervision.run_id
    said = False
    while True:
        try:
            worker._log(worker.store.mark_interrupted(run_id, what).message)
            return
        except InvalidRunState:  # it had already ended: that record stands
            worker._log(f"run {run_id}: stopped: {what}")
            return
        except StoreError as again:
            if worker.stopping:
                worker._log(f"run {run_id}: stopped, but the store could not record it "
                            f"({again}); it becomes interrupted when its lease expires")
                return
            if not said:
                worker._log(f"run {run_id}: stopped; the store cannot record it yet ({again}); "
                            f"trying every {wait_s:g} s")
                said = True
            worker._sleep(wait_s)


def _stop_child(child: Any, stop_flag: Any) -> None:
    """Ask, then terminate, then kill: the child's own results could not be stored anyway."""
    stop_flag.set()
    child.join(timeout=5)
    if child.is_alive():
        child.terminate()
        child.join(timeout=2)
    if child.is_alive():
        child.kill()
        child.join(timeout=5)
