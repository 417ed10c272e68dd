"""Run store speed: step inserts, the run list page, compare. Prints each against its target.

    .venv/bin/python benchmarks/store.py [--rows 1000000] [--runs 10000]

Baseline: plain sqlite3 executemany into the same table layout, same batches.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.config import config_from_preset  # noqa: E402
from engine.events import StepMetrics  # noqa: E402
from storage import RunFilter, RunStore  # noqa: E402

BATCH = 1_000


def bench_steps(store: RunStore, rows: int) -> float:
    run_id = store.create_run(config_from_preset("seed"))
    batches = [[StepMetrics(step=s, epoch=s // 1000, loss=random.random(), lr=0.01,
                            images_per_s=1.0) for s in range(b, min(b + BATCH, rows))]
               for b in range(0, rows, BATCH)]
    start = time.perf_counter()
    for batch in batches:
        store.append_steps(run_id, batch)
    return rows / (time.perf_counter() - start)


def bench_sqlite3(path: Path, rows: int) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE step_metrics (run_id INTEGER NOT NULL, step INTEGER NOT NULL,"
               " epoch INTEGER NOT NULL, loss FLOAT NOT NULL, lr FLOAT NOT NULL,"
               " PRIMARY KEY (run_id, step)) WITHOUT ROWID")
    batches = [[(1, s, s // 1000, random.random(), 0.01) for s in range(b, min(b + BATCH, rows))]
               for b in range(0, rows, BATCH)]
    start = time.perf_counter()
    for batch in batches:
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO step_metrics VALUES (?, ?, ?, ?, ?)", batch)
        db.execute("COMMIT")
    rate = rows / (time.perf_counter() - start)
    db.close()
    return rate


def build_history(store: RunStore, runs: int, epochs: int = 30) -> list[int]:
    """Runs written straight through the store's engine in big transactions: the
    public API does one transaction per call, which would only time setup."""
    from sqlalchemy import insert

    from storage.schema import EpochMetric, Run, utcnow

    rng = random.Random(0)
    models = ("resnet9", "resnet18", "resnet18-seed")
    statuses = ("completed",) * 8 + ("failed", "cancelled")
    with store._sessions.begin() as s:
        first = s.execute(insert(Run).returning(Run.id), [dict(
            name=f"bench-{i:05d}", status=rng.choice(statuses), config={"i": i},
            model=rng.choice(models), dataset="cifar10", epochs=epochs, batch_size=400,
            max_lr=rng.choice((0.005, 0.01, 0.02)), weight_decay=1e-4, grad_clip=0.1,
            optimizer="adam", width_mult=1.0, created_at=utcnow(), queued_at=utcnow(),
            best_val_acc=rng.random(), current_epoch=epochs) for i in range(runs)]).scalars().all()
        s.execute(insert(EpochMetric.__table__), [dict(
            run_id=run_id, epoch=e, train_loss=1.0, train_acc=0.5, val_loss=1.0,
            val_acc=rng.random(), lr=0.01, seconds=3.0, images_per_s=5000.0)
            for run_id in first for e in range(1, epochs + 1)])
    return list(first)


def timed(fn, repeat: int = 30) -> float:
    fn()  # warm: statement cache, page cache
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=10_000)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}")
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(str(Path(tmp) / "bench.db"))
        ours = bench_steps(store, args.rows)
        base = bench_sqlite3(Path(tmp) / "baseline.db", args.rows)
        ok = "ok" if ours >= 100_000 else "MISSED"
        print(f"step insert: {ours:,.0f} rows/s (target >= 100,000: {ok}); plain sqlite3 "
              f"executemany {base:,.0f} rows/s; store/baseline = {ours / base:.2f}")

        start = time.perf_counter()
        ids = build_history(store, args.runs)
        print(f"history: {len(ids):,} runs x 30 epochs built in "
              f"{time.perf_counter() - start:.1f} s")
        flt = RunFilter(status="completed", model="resnet9")
        page = timed(lambda: store.list_runs(flt, sort="best_val_acc", limit=50))
        count = timed(lambda: store.count_runs(flt))
        print(f"list page (50 of {store.count_runs(flt):,} filtered, sorted by best val acc): "
              f"{page:.2f} ms (target < 20: {'ok' if page < 20 else 'MISSED'}); "
              f"count for the pager {count:.2f} ms")
        tagged = RunFilter(text="bench-0")
        search = timed(lambda: store.list_runs(tagged, sort="best_val_acc", limit=50))
        print(f"list page with a text search: {search:.2f} ms")
        five = random.Random(1).sample(ids, 5)
        cmp_ms = timed(lambda: store.compare(five))
        print(f"compare 5 runs x 30 epochs: {cmp_ms:.2f} ms (target < 20: "
              f"{'ok' if cmp_ms < 20 else 'MISSED'})")
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
