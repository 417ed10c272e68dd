"""Queue throughput: N tiny runs drained by 1, 2 and 4 workers, on SQLite and PostgreSQL,
against calling the training function directly in one process.

Each run is one training step (synthetic data, ResNet9 at width 0.0625, 64 images, batch
64, one epoch, plus the 1,000-image synthetic test pass). Each worker is a real
`cifar-tui worker --device cpu --exit-when-empty` process standing for its own host (own
CIFAR_TUI_HOME and CIFAR_TUI_HOST), run through a small harness that times every
`RunStore.claim_next_run` call. Per configuration it prints:

- runs/min over the drain (first run started to last run finished, from the store);
- claim latency p50/p95 of the claims that got a run (the empty polls are counted apart);
- worker-seconds per run (drain time x workers / runs) against the baseline: the same
  config trained by `engine.train.train` in this process, torch already imported, and
  the ratio. The difference is the queue's per-run overhead: a spawned training child
  (its own torch import), the store writes and the event relay.

On the shared 2-core box (20 runs a drain, load 8-11 from others): baseline 1.99 s a run;
one worker 4.5 runs/min on SQLite (claim p50 2.3 ms), 5.9 on PostgreSQL (13.6 ms), about
10 s of overhead a run (the child's torch import); two workers fastest, four contend.
Figures and the machine they came from are in docs/benchmarks.md ("Queue").
The PostgreSQL database is emptied (its public schema dropped) before each drain: point
--pg-url at a test database only.

    python benchmarks/queue.py [--runs 200] [--workers 1,2,4] [--backends sqlite,postgresql]
                               [--pg-url URL (default $CIFAR_TUI_TEST_PG_URL)]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Run as a script, this folder comes first on sys.path, and this file would stand in for
# the standard library's `queue` (torch imports it): keep only the repository root.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO / "benchmarks"]
sys.path.insert(0, str(REPO))

from engine.config import RunConfig  # noqa: E402

TINY = dict(dataset="synthetic", width_mult=0.0625, epochs=1, limit_train=64, batch_size=64,
            device="cpu", log_every=1)
DRAIN_TIMEOUT_S = 3600


@dataclass(frozen=True)
class Drain:
    backend: str
    workers: int
    runs: int
    completed: int
    seconds: float  # first start to last finish, as the store recorded them
    claims: list[float]  # seconds each successful claim took
    empty_polls: int
    per_worker: list[int]  # runs each worker trained

    @property
    def runs_per_min(self) -> float:
        return self.completed / self.seconds * 60

    @property
    def worker_s_per_run(self) -> float:
        return self.seconds * self.workers / self.completed


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# -- the harness each worker process runs ----------------------------------------------

def timed_worker(out: Path) -> int:
    """`cifar-tui worker` with every claim timed; the timings go to ``out`` at exit."""
    from storage.runs import RunStore

    got: list[float] = []
    empty: list[float] = []
    claim = RunStore.claim_next_run

    def timed_claim(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        t0 = time.perf_counter()
        claimed = claim(self, *args, **kwargs)
        (got if claimed is not None else empty).append(time.perf_counter() - t0)
        return claimed

    RunStore.claim_next_run = timed_claim
    from cli.main import main

    try:
        return main(["worker", "--device", "cpu", "--exit-when-empty"])
    finally:
        out.write_text(json.dumps({"claims": got, "empty": empty}))


# -- one drain ----------------------------------------------------------------------------

def fresh_store(backend: str, pg_url: str | None, tmp: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'queue.db'}"
    from sqlalchemy import create_engine, text

    engine = create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:  # a clean test database: the benchmark's own tables only
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return pg_url


def drain(backend: str, workers: int, runs: int, pg_url: str | None) -> Drain:
    from storage import RunStore

    with tempfile.TemporaryDirectory(prefix="cifar-tui-queue-") as tmp_name:
        tmp = Path(tmp_name)
        url = fresh_store(backend, pg_url, tmp)
        with RunStore(url) as store:
            for _ in range(runs):
                store.create_run(RunConfig(**TINY))
        procs, outs = [], []
        for i in range(workers):
            home, out = tmp / f"host-{i}", tmp / f"claims-{i}.json"
            home.mkdir()
            env = {**os.environ, "CIFAR_TUI_HOME": str(home), "CIFAR_TUI_HOST": f"bench-{i}",
                   "CIFAR_TUI_DB": url, "CIFAR_TUI_OFFLINE": "1"}
            with open(tmp / f"worker-{i}.log", "wb") as log:
                procs.append(subprocess.Popen(
                    [sys.executable, __file__, "--timed-worker", str(out)], cwd=REPO, env=env,
                    stdout=log, stderr=subprocess.STDOUT))
            outs.append(out)
        for proc in procs:
            proc.wait(timeout=DRAIN_TIMEOUT_S)
        timings = [json.loads(o.read_text()) if o.exists() else {"claims": [], "empty": []}
                   for o in outs]
        with RunStore(url) as store:
            rows = store.list_runs(limit=runs + 1)
            hosts = [a.host for r in rows for a in store.get_run(r.id).attempts]
    done = [r for r in rows if r.status == "completed"]
    span = (max(r.finished_at for r in done) - min(r.started_at for r in done)).total_seconds()
    return Drain(backend, workers, runs, len(done), span,
                 [c for t in timings for c in t["claims"]],
                 sum(len(t["empty"]) for t in timings),
                 [hosts.count(f"bench-{i}") for i in range(workers)])


def baseline_s_per_run(repeats: int) -> float:
    """Seconds per run for `engine.train.train` called in this process (after a warm-up)."""
    from engine.train import train

    with tempfile.TemporaryDirectory(prefix="cifar-tui-baseline-") as ckpt:
        train(RunConfig(**TINY), checkpoint_dir=ckpt)  # imports, first-call caches
        t0 = time.perf_counter()
        for _ in range(repeats):
            final = train(RunConfig(**TINY), checkpoint_dir=ckpt)
            assert type(final).__name__ == "RunFinished", final
        return (time.perf_counter() - t0) / repeats


def report(d: Drain, base: float) -> str:
    ms = [c * 1000 for c in d.claims] or [float("nan")]
    return (f"{d.backend:<10} {d.workers:>7} {d.completed:>4}/{d.runs:<4} {d.seconds:>8.1f} "
            f"{d.runs_per_min:>8.1f} {percentile(ms, 0.5):>8.1f} {percentile(ms, 0.95):>8.1f} "
            f"{d.worker_s_per_run:>9.2f} {d.worker_s_per_run - base:>9.2f} "
            f"{d.worker_s_per_run / base:>6.1f}x  {d.per_worker} ({d.empty_polls} empty polls)")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=200, help="runs per drain (default 200)")
    p.add_argument("--workers", default="1,2,4", help="worker counts (default 1,2,4)")
    p.add_argument("--backends", default="sqlite,postgresql")
    p.add_argument("--pg-url", default=os.environ.get("CIFAR_TUI_TEST_PG_URL"),
                   help="a test database, emptied before each drain")
    p.add_argument("--baseline-runs", type=int, default=20)
    p.add_argument("--timed-worker", type=Path, help=argparse.SUPPRESS)  # the harness
    args = p.parse_args()
    if args.timed_worker:
        return timed_worker(args.timed_worker)
    backends = args.backends.split(",")
    if "postgresql" in backends and not args.pg_url:
        print("no --pg-url (or $CIFAR_TUI_TEST_PG_URL): PostgreSQL skipped")
        backends.remove("postgresql")
    base = baseline_s_per_run(args.baseline_runs)
    print(f"baseline: engine.train.train in one process, {base:.3f} s per run "
          f"({60 / base:.0f} runs/min), mean of {args.baseline_runs}")
    print(f"{'backend':<10} {'workers':>7} {'runs':>9} {'drain s':>8} {'runs/min':>8} "
          f"{'claim p50':>9}{'p95 ms':>8} {'worker-s':>9} {'overhead':>9} {'ratio':>7}  "
          "runs per worker")
    for backend in backends:
        for workers in (int(w) for w in args.workers.split(",")):
            print(report(drain(backend, workers, args.runs, args.pg_url), base), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
