"""A seeded 2×2 grid for the seed-group tests: two learning rates × two batch sizes, two
seeds each (8 finished runs in 4 groups), plus a queued third seed in one group.

Every run goes through the store's real API (create, claim, record_epoch, finish_run)
with the clock moved on, so durations are real stored values. ``GridRun`` keeps what was
put in, so tests compute the expected statistics by hand from it, not from the store.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.config import config_from_preset
from engine.events import EpochMetrics
from storage.runs import RunStore
from support.clock import FixedTime
from support.store import finished

LRS = (0.01, 0.02)
BATCHES = (200, 400)
SEEDS = (0, 1)
EPOCHS = 3


@dataclass(frozen=True)
class GridRun:
    run_id: int
    max_lr: float
    batch_size: int
    seed: int
    val_accs: tuple[float, ...]  # per epoch
    test_acc: float
    seconds: float  # from claim to finish


def _values(lr: float, bs: int, seed: int) -> tuple[tuple[float, ...], float, float]:
    base = 0.5 + 10 * lr + bs / 4000 + 0.013 * seed * (1 + 3 * lr)
    vals = (base - 0.1, base, base - 0.02)
    return vals, base - 0.03 + 0.007 * seed, 60.0 + 45 * seed + bs / 10


def grid_config(lr: float, bs: int, seed: int, name: str):  # noqa: ANN201
    return config_from_preset("seed", dataset="synthetic", epochs=EPOCHS, max_lr=lr,
                              batch_size=bs, seed=seed, name=name)


def seed_grid(store: RunStore, clock: FixedTime) -> list[GridRun]:
    """The 8 finished grid runs (in creation order), then run 9: a queued third seed of
    (lr 0.01, bs 200), which counts in its group's n but has no results."""
    out: list[GridRun] = []
    minute = 0.0
    for lr in LRS:
        for bs in BATCHES:
            for seed in SEEDS:
                name = f"lr{lr}-bs{bs}-s{seed}"
                clock.at(minute)
                run_id = store.create_run(grid_config(lr, bs, seed, name), name=name)
                claimed = store.claim_next_run("grid-worker")
                assert claimed is not None and claimed.run_id == run_id
                vals, test_acc, seconds = _values(lr, bs, seed)
                for epoch, acc in enumerate(vals, start=1):
                    store.record_epoch(run_id, EpochMetrics(
                        epoch=epoch, train_loss=1.0 / epoch, train_acc=acc - 0.05,
                        val_loss=1.2 - acc, val_acc=acc, lr=lr, seconds=seconds / EPOCHS,
                        images_per_s=4000.0, step=epoch * 10, time=0.0))
                clock.advance(seconds)
                store.finish_run(run_id, finished(test_acc=test_acc))
                out.append(GridRun(run_id, lr, bs, seed, vals, test_acc, seconds))
                minute += 10
    clock.at(minute)
    store.create_run(grid_config(LRS[0], BATCHES[0], 2, "lr0.01-bs200-s2"),
                     name="lr0.01-bs200-s2")
    return out
