"""Sweep steering: one steer pass (``settle`` + ``top_up``) with an active TPE sweep of 0,
50 and 200 finished trials, and the Optuna TPE ask inside it, against a worker's plain
claim (``claim_next_run`` on a queue with no sweeps), on SQLite and PostgreSQL.

A worker calls ``Steering.steer()`` (worker/sweeps.py) before each claim (at most once a second) and
right after each run. Two passes are timed at each size, over fresh stores:

- "steer, run queued": the sweep's next run waits in the queue; settle finds nothing to
  tell and top_up skips the sweep (a worker polling, or its second slot);
- "steer after a run": a sweep run just finished (claimed, one epoch recorded, finished
  through the real store API; no training); settle tells its trial and top_up asks the
  next one. Each such pass adds a trial, so a size of 200 covers 200..229 finished.

The sweep samples max_lr and weight_decay (log ranges) and the optimizer (adam/sgd); the
value told is a made-up function of them. "TPE ask" is ``storage.studies.ask`` timed
inside top_up; "in-memory" asks the same TPE sampler over an in-memory study with as many
trials, so the difference is what the RDB storage costs. Median and p95 of each, and the
ratio of the median to the claim's. ``--profile`` prints cProfile's top functions of
"steer after a run" passes at the largest size. ``--history N`` first writes N other
finished runs of 30 epochs into each store (as benchmarks/store.py does), as a store a
team has used for a while holds.

On the shared 2-core box (load about 3): a pass after a run 21-33 ms on SQLite and 40-50 ms
on PostgreSQL at 0-200 trials, against a 1.0 / 2.3 ms claim; 10,000 other runs in the
store add 30-40 ms to every pass. Figures in docs/benchmarks.md ("Sweeps").
The PostgreSQL database is emptied (its public schema dropped) before each store: point
--pg-url at a test database only.

    python benchmarks/sweep.py [--trials 0,50,200] [--passes 30] [--history 0] [--profile]
                               [--backends sqlite,postgresql]
                               [--pg-url URL (default $CIFAR_TUI_TEST_PG_URL)]
"""

from __future__ import annotations

import argparse
import cProfile
import math
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# Run as a script, this folder comes first on sys.path, where benchmarks/queue.py would
# stand in for the standard library's `queue`: keep only the repository root.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO / "benchmarks"]
sys.path.insert(0, str(REPO))

import storage.studies as studies  # noqa: E402
from engine.config import config_from_preset  # noqa: E402
from engine.events import EpochMetrics, RunFinished  # noqa: E402
from engine.sweep_spec import ParamRange, SweepSpec  # noqa: E402
from storage import RunStore  # noqa: E402
from worker import sweeps  # noqa: E402

FIXED = dict(dataset="synthetic", width_mult=0.125, device="cpu")
SPEC = SweepSpec(method="tpe", trials=100_000, fixed=FIXED, name="bench",
                 values={"optimizer": ("adam", "sgd")},
                 ranges={"max_lr": ParamRange(1e-4, 1e-1, log=True),
                         "weight_decay": ParamRange(1e-6, 1e-2, log=True)})
Row = tuple[str, str, list[float]]  # pass, trials, milliseconds


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def quiet(_line: str) -> None:
    pass


def made_up_acc(config: dict[str, Any]) -> float:
    """A smooth made-up val acc, best near max_lr 1e-2 and weight_decay 1e-4."""
    lr, wd = math.log10(config["max_lr"]), math.log10(config["weight_decay"])
    bonus = 0.02 if config["optimizer"] == "adam" else 0.0
    return 0.9 - 0.05 * (lr + 2) ** 2 - 0.01 * (wd + 4) ** 2 + bonus


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "unknown"


# -- stores ---------------------------------------------------------------------------

def fresh_store(backend: str, pg_url: str | None, tmp: Path, tag: str,
                history: int) -> RunStore:
    if backend == "sqlite":
        store = RunStore(f"sqlite:///{tmp / f'{tag}.db'}")
    else:
        from sqlalchemy import create_engine, text

        engine = create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.begin() as conn:  # a clean test database: the benchmark's own tables only
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        store = RunStore(pg_url)
    if history:
        from benchmarks.store import build_history

        build_history(store, history)
    return store


def forget_studies() -> None:
    """Close the Optuna engines worker.sweeps keeps per store, so the next store's
    schema can be dropped and no idle connections pile up."""
    for storage in studies._STORAGES.values():
        storage.engine.dispose()
    studies._STORAGES.clear()
    sweeps._STUDIES.clear()


def finish_next(store: RunStore) -> None:
    """Claim the queued sweep run, record one epoch and finish it: no training."""
    claimed = store.claim_next_run("bench-worker")
    assert claimed is not None, "no sweep run queued"
    acc = made_up_acc(store.get_run(claimed.run_id).config)
    store.record_epoch(claimed.run_id, EpochMetrics(
        epoch=1, train_loss=1.0, train_acc=0.5, val_loss=0.9, val_acc=acc, lr=0.01,
        seconds=1.0, images_per_s=1.0))
    store.finish_run(claimed.run_id, RunFinished(
        best_val_acc=acc, final_val_acc=acc, test_loss=0.3, test_acc=acc,
        per_class_acc=[acc] * 10, confusion=[[1] * 10 for _ in range(10)],
        class_names=[f"c{i}" for i in range(10)], train_seconds=1.0, images_per_s=1.0))


# -- the timings ----------------------------------------------------------------------

def ms_of(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def claim_baseline(store: RunStore, passes: int) -> list[Row]:
    """A worker's plain claim: one queued run taken per pass, then empty polls."""
    for _ in range(passes + 1):
        store.create_run(config_from_preset("seed", **FIXED))
    store.claim_next_run("bench-worker")  # warm: statement cache, pool
    got = [ms_of(lambda: store.claim_next_run("bench-worker")) for _ in range(passes)]
    empty = [ms_of(lambda: store.claim_next_run("bench-worker")) for _ in range(passes)]
    return [("claim (baseline)", "-", got), ("empty claim", "-", empty)]


def steer() -> tuple[Callable[[RunStore], None], list[float]]:
    """settle + top_up as Steering.steer runs them, with the asks timed."""
    asks: list[float] = []
    plain_ask = studies.ask

    def timed_ask(*args: Any, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        t0 = time.perf_counter()
        try:
            return plain_ask(*args, **kwargs)
        finally:
            asks.append((time.perf_counter() - t0) * 1000)

    studies.ask = timed_ask  # top_up imports it from storage.studies at each call

    def one_pass(store: RunStore) -> None:
        sweeps.settle(store, quiet)
        sweeps.top_up(store, quiet)

    return one_pass, asks


def sweep_rows(store: RunStore, trials: int, passes: int, profile: bool) -> list[Row]:
    one_pass, asks = steer()
    sweep_id, _ = sweeps.queue_sweep(store, SPEC)
    t0 = time.perf_counter()
    for _ in range(trials):
        one_pass(store)
        finish_next(store)
    one_pass(store)  # tells the last one, queues the next
    built = time.perf_counter() - t0
    print(f"  built {trials} finished trials in {built:.1f} s", flush=True)
    idle = [ms_of(lambda: one_pass(store)) for _ in range(passes)]
    asks.clear()
    after, settles, top_ups = [], [], []
    profiler = cProfile.Profile() if profile else None
    for _ in range(passes):
        finish_next(store)
        if profiler:
            profiler.enable()
        settles.append(ms_of(lambda: sweeps.settle(store, quiet)))
        top_ups.append(ms_of(lambda: sweeps.top_up(store, quiet)))
        if profiler:
            profiler.disable()
        after.append(settles[-1] + top_ups[-1])
    record = store.get_sweep(sweep_id)
    assert record.trials_told == trials + passes and len(asks) == passes, record
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    span = f"{trials}..{trials + passes - 1}"
    return [("steer, run queued", str(trials), idle), ("steer after a run", span, after),
            ("  settle", span, settles), ("  top_up", span, top_ups),
            ("    TPE ask (RDB)", span, list(asks)),
            ("TPE ask, in-memory", span, in_memory_asks(trials, passes))]


def in_memory_asks(trials: int, passes: int) -> list[float]:
    """The same sampler over an in-memory study: the sampling alone, no storage."""
    import optuna

    study = optuna.create_study(direction="maximize", sampler=studies.sampler_for("tpe"))
    dists = studies.distributions(SPEC.values, SPEC.ranges)
    for _ in range(trials):
        trial = study.ask(dists)
        study.tell(trial, made_up_acc(trial.params))
    out = []
    for _ in range(passes):
        t0 = time.perf_counter()
        trial = study.ask(dists)
        out.append((time.perf_counter() - t0) * 1000)
        study.tell(trial, made_up_acc(trial.params))
    return out


# -- main -----------------------------------------------------------------------------

def bench(backend: str, pg_url: str | None, sizes: list[int], args: argparse.Namespace
          ) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="cifar-tui-sweep-") as tmp_name:
        tmp = Path(tmp_name)
        with fresh_store(backend, pg_url, tmp, "claims", args.history) as store:
            rows += claim_baseline(store, args.passes)
        for trials in sizes:
            profile = args.profile and trials == max(sizes)
            with fresh_store(backend, pg_url, tmp, f"sweep-{trials}", args.history) as store:
                rows += sweep_rows(store, trials, args.passes, profile)
            forget_studies()
    return rows


def table(backend: str, rows: list[Row]) -> None:
    base = statistics.median(rows[0][2])
    for name, trials, ms in rows:
        med = statistics.median(ms)
        print(f"{backend:<10} {name:<22} {trials:>9} {med:>9.2f} {percentile(ms, 0.95):>9.2f}"
              f" {med / base:>8.1f}x", flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", default="0,50,200", help="finished trials (default 0,50,200)")
    p.add_argument("--passes", type=int, default=30, help="timed passes each (default 30)")
    p.add_argument("--backends", default="sqlite,postgresql")
    p.add_argument("--pg-url", default=os.environ.get("CIFAR_TUI_TEST_PG_URL"),
                   help="a test database, emptied before each store")
    p.add_argument("--history", type=int, default=0,
                   help="other finished runs (30 epochs each) in each store (default 0)")
    p.add_argument("--profile", action="store_true",
                   help="cProfile the steer-after-a-run passes at the largest size")
    args = p.parse_args()
    backends = args.backends.split(",")
    if "postgresql" in backends and not args.pg_url:
        print("no --pg-url (or $CIFAR_TUI_TEST_PG_URL): PostgreSQL skipped")
        backends.remove("postgresql")
    import optuna

    print(f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, Optuna "
          f"{optuna.__version__}, {args.history} other runs in each store; "
          f"load average at start: {loadavg()}")
    sizes = [int(n) for n in args.trials.split(",")]
    for backend in backends:
        rows = bench(backend, args.pg_url, sizes, args)
        print(f"{'backend':<10} {'pass':<22} {'trials':>9} {'median ms':>9} {'p95 ms':>9} "
              f"{'vs claim':>9}")
        table(backend, rows)
    print(f"load average at end: {loadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
