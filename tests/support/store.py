"""Builders for store tests: configs, epochs, results and completed runs; PostgreSQL reset."""

from __future__ import annotations

import os

from engine.config import RunConfig, config_from_preset
from engine.events import EpochMetrics, RunFinished
from storage import RunStore

# Set (e.g. postgresql+psycopg://ct:ct@127.0.0.1/cifartui_test) to run the store tests on
# PostgreSQL as well; `.ci/run` starts one when it can.
PG_URL = os.environ.get("CIFAR_TUI_TEST_PG_URL")


def cfg(**overrides) -> RunConfig:
    return config_from_preset("seed", **overrides)


def epoch(n: int, val_acc: float | None) -> EpochMetrics:
    return EpochMetrics(epoch=n, train_loss=1.0 / n, train_acc=0.5, val_loss=0.9,
                        val_acc=val_acc, lr=0.01, seconds=2.0, images_per_s=5000.0)


def finished(best: float | None = None, test_acc: float = 0.9) -> RunFinished:
    return RunFinished(best_val_acc=best, final_val_acc=None, test_loss=0.3, test_acc=test_acc,
                       per_class_acc=[0.9] * 10, confusion=[[1] * 10 for _ in range(10)],
                       class_names=[f"c{i}" for i in range(10)], train_seconds=10.0,
                       images_per_s=4000.0)


def completed_run(store: RunStore, val_accs: list[float], **overrides) -> int:
    """A run taken through claim, epochs and finish."""
    run_id = store.create_run(cfg(**overrides))
    claimed = store.claim_next_run("test-worker")
    assert claimed is not None and claimed.run_id == run_id
    for i, acc in enumerate(val_accs, start=1):
        store.record_epoch(run_id, epoch(i, acc))
    store.finish_run(run_id, finished())
    return run_id


def empty_postgres(url: str) -> None:
    """Drop everything a previous test left, so each test starts from an empty database."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()
