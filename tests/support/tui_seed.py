"""Seed real SQLite stores for the TUI tests, with fixed timestamps.

The store is opened with a ``FixedTime`` clock, so created/started/finished times
are the same every run; the app gets ``NOW`` as its own clock.
"""

from __future__ import annotations

import math
import time
from datetime import timedelta

from engine.config import config_from_preset
from engine.events import EpochMetrics, RunFinished, RunStarted, StepMetrics
from storage.runs import RunStore
from support.clock import T0, FixedTime
from support.data import CLASSES
from tui.format import planned_lr

NOW = T0 + timedelta(hours=3)  # the app's fixed clock in snapshots
STEPS_PER_EPOCH = 20


class WorkerStarts:
    """Stands in for launching `cifar-tui worker`: records the calls, spawns nothing."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, db_url: str) -> int:
        self.calls.append(db_url)
        return 4242


def started(run_id: int, store: RunStore, config: dict, device: str = "cuda:0") -> None:
    total = config["epochs"] * STEPS_PER_EPOCH
    store.record_start(run_id, RunStarted(
        config=config, device=device, host="gpu-box", torch_version="2.5.0", num_params=6_573_130,
        num_train=45_000, num_val=5_000, num_test=10_000, steps_per_epoch=STEPS_PER_EPOCH,
        total_steps=total, time=0.0,
    ))


def train_epochs(store: RunStore, run_id: int, epochs: int, lr_scale: float = 1.0,
                 acc_cap: float = 0.9, partial_steps: int = 0) -> None:
    """Record ``epochs`` whole epochs (steps and epoch metrics), then ``partial_steps`` more."""
    config = store.get_run(run_id).config
    total = config["epochs"] * STEPS_PER_EPOCH
    _, plan = planned_lr(config["schedule"], config["max_lr"], config["pct_start"], total,
                         points=total)
    step = 0
    for epoch in range(1, epochs + 1):
        rows = []
        for _ in range(STEPS_PER_EPOCH):
            step += 1
            loss = 2.3 * math.exp(-step / 60) + 0.25 + 0.05 * math.sin(step * 1.7)
            rows.append(StepMetrics(step=step, epoch=epoch, loss=loss, lr=plan[step - 1],
                                    images_per_s=5200.0, time=0.0))
        store.append_steps(run_id, rows)
        acc = acc_cap * (1 - math.exp(-epoch / 2))
        store.record_epoch(run_id, EpochMetrics(
            epoch=epoch, train_loss=1.5 / epoch, train_acc=acc - 0.02, val_loss=1.4 / epoch + 0.2,
            val_acc=acc, lr=0.01 * lr_scale, seconds=12.0, images_per_s=5200.0, step=step, time=0.0,
        ))
    extra = [StepMetrics(step=step + i, epoch=epochs + 1, loss=0.5, lr=plan[step + i - 1],
                         images_per_s=5100.0, time=0.0)
             for i in range(1, partial_steps + 1)]
    store.append_steps(run_id, extra)


def finished(store: RunStore, run_id: int, test_acc: float, final_val_acc: float) -> None:
    confusion = [[80 if i == j else (12 if (i, j) in ((3, 5), (5, 3)) else 1) for j in range(10)]
                 for i in range(10)]
    store.finish_run(run_id, RunFinished(
        best_val_acc=None, final_val_acc=final_val_acc, test_loss=0.41, test_acc=test_acc,
        per_class_acc=[0.95, 0.97, 0.84, 0.71, 0.9, 0.78, 0.93, 0.94, 0.96, 0.95],
        confusion=confusion, class_names=CLASSES, train_seconds=96.0, images_per_s=5200.0,
        checkpoint_best="/ckpt/run-best.pt", checkpoint_last="/ckpt/run-last.pt", time=0.0,
    ))


def seed_history(store: RunStore, clock: FixedTime) -> dict[str, int]:
    """Five runs, one of each kind the screens show: two completed, failed, running, queued."""
    ids: dict[str, int] = {}
    clock.at(0)
    base = config_from_preset("seed", dataset="synthetic", epochs=4)
    ids["baseline"] = store.create_run(base, name="baseline", tags=["baseline"])
    clock.at(5)
    wide = config_from_preset("resnet18", dataset="synthetic", epochs=4, max_lr=0.02)
    ids["wide"] = store.create_run(wide, name="r18-lr0.02", tags=["sweep"])
    clock.at(10)
    ids["broken"] = store.create_run(base.replace(batch_size=4096), name="too-big")
    clock.at(15)
    live = config_from_preset("fast", dataset="synthetic", epochs=8)
    ids["live"] = store.create_run(live, name="fast-live")
    clock.at(20)
    ids["queued"] = store.create_run(base.replace(seed=1), name="seed-1", tags=["sweep"])

    for key, test_acc, scale, cap in (("baseline", 0.884, 1.0, 0.9), ("wide", 0.861, 2.0, 0.87)):
        clock.at(30 if key == "baseline" else 40)
        claimed = store.claim_next_run("w1", "cuda:0", "gpu-box")
        assert claimed is not None and claimed.run_id == ids[key]
        started(claimed.run_id, store, claimed.config)
        train_epochs(store, claimed.run_id, 4, lr_scale=scale, acc_cap=cap)
        clock.at(32 if key == "baseline" else 43)
        finished(store, claimed.run_id, test_acc, cap * (1 - math.exp(-2)))
    clock.at(50)
    claimed = store.claim_next_run("w1", "cuda:0", "gpu-box")
    assert claimed is not None and claimed.run_id == ids["broken"]
    store.fail_run(claimed.run_id, "CUDA out of memory. Tried to allocate 2.00 GiB",
                   "Traceback (most recent call last):\n"
                   "  File \"engine/train.py\", line 260, in train\n"
                   "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB")
    clock.at(170)
    claimed = store.claim_next_run("w1", "cuda:0", "gpu-box")
    assert claimed is not None and claimed.run_id == ids["live"]
    started(claimed.run_id, store, claimed.config)
    clock.at(176)
    train_epochs(store, claimed.run_id, 3, acc_cap=0.93, partial_steps=7)
    return ids


async def until(pilot, done, seconds: float = 10) -> None:  # noqa: ANN001
    """Let the app run until ``done()`` holds; bounded, so a regression fails, not hangs.
    (``settle`` would wait for every worker, and a polling app always has one.)"""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if done():
            return
        await pilot.pause(0.01)
    assert done()


def told(app) -> list[str]:  # noqa: ANN001
    """The notifications raised so far. Read from the app, not from the toasts on screen:
    with two apps in one event loop, only the first one draws its toasts."""
    return [n.message for n in app._notifications]


async def settle(pilot, rounds: int = 3) -> None:  # noqa: ANN001
    """Let workers finish and their messages land (a message may start another worker),
    and the screen's tables measure what was added to them."""
    for _ in range(rounds):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
    deadline = time.monotonic() + 10
    while tables_unmeasured(pilot.app) and time.monotonic() < deadline:
        await pilot.pause(0.01)


def tables_unmeasured(app) -> bool:  # noqa: ANN001
    """A DataTable sizes its new rows and columns on its next Idle event (Textual's
    DataTable._on_idle), which can come after ``pause()`` on a loaded machine: a snapshot
    then caught the compare table's label column at width 0. Private attributes, read
    with defaults, so a Textual that renames them only loses this wait."""
    from textual.widgets import DataTable

    return any(getattr(t, "_new_rows", None) or getattr(t, "_updated_cells", None)
               or getattr(t, "_require_update_dimensions", False)
               for t in app.screen.query(DataTable))


def table_ids(app) -> list[int]:  # noqa: ANN001
    """Run ids in the home table, top to bottom."""
    from tui.widgets.run_table import RunTable

    table = app.screen_stack[0].query_one(RunTable)
    return [int(row.key.value) for row in table.ordered_rows]


LONG_DATA_DIR = "/home/someone/datasets/experiments/2026-11/cifar-10-subset"


def seed_exploded(store: RunStore, clock: FixedTime) -> dict[str, int]:
    """Two finished runs, one whose val loss exploded to 829,933, the other's in a folder
    with a long path: the compare screen's log axis and cut cells."""
    ids: dict[str, int] = {}
    base = config_from_preset("seed", dataset="synthetic", epochs=4)
    losses = {"steady": [1.6, 0.9, 0.6, 0.45], "exploded": [1.8, 40.0, 829_933.0, 2_500.0]}
    for i, (name, vals) in enumerate(losses.items()):
        clock.at(i * 10)
        # The name in the config too (as `train --name` does): it differs, but is the header.
        config = base.replace(name=name, max_lr=1e4) if name == "exploded" else base.replace(
            name=name, data_dir=LONG_DATA_DIR)
        ids[name] = store.create_run(config, name=name)
        claimed = store.claim_next_run("w1", "cuda:0", "gpu-box")
        assert claimed is not None and claimed.run_id == ids[name]
        started(claimed.run_id, store, claimed.config)
        for epoch, val_loss in enumerate(vals, start=1):
            store.record_epoch(claimed.run_id, EpochMetrics(
                epoch=epoch, train_loss=val_loss, train_acc=0.5, val_loss=val_loss,
                val_acc=0.1 if name == "exploded" else 0.2 * epoch, lr=0.01, seconds=12.0,
                images_per_s=5200.0, step=epoch * STEPS_PER_EPOCH, time=0.0))
        clock.at(i * 10 + 2)
        finished(store, claimed.run_id, 0.1 if name == "exploded" else 0.8, 0.5)
    return ids
