"""Real sweeps for the TUI tests: queued with worker.sweeps, trained by hand through the
store's own API (claim, one epoch, finish), and told to Optuna with ``settle``."""

from __future__ import annotations

from typing import Any

from engine.sweep_spec import spec_from_texts
from storage.runs import RunStore
from support.store import epoch, finished

SYN = {"dataset": "synthetic", "epochs": "1"}


def queue(store: RunStore, texts: dict[str, str], **options: Any) -> tuple[int, list[int]]:
    from worker.sweeps import queue_sweep

    return queue_sweep(store, spec_from_texts({**SYN, **texts}, **options))


def train(store: RunStore, run_id: int, val_acc: float) -> None:
    """Claim the oldest queued run (it must be ``run_id``), one epoch, finish it."""
    claimed = store.claim_next_run("test-worker")
    assert claimed is not None and claimed.run_id == run_id
    store.record_epoch(run_id, epoch(1, val_acc))
    store.finish_run(run_id, finished(best=val_acc))


def settle(store: RunStore) -> None:
    from worker.sweeps import settle as tell_ended

    tell_ended(store, log=lambda _line: None)
