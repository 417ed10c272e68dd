"""Process entry points for the multi-process tests (spawned, so importable by name)."""

from __future__ import annotations

import time
import traceback

from engine.config import config_from_preset
from engine.events import StepMetrics


def open_store(url: str, start, results) -> None:
    """Open (and so migrate) a fresh database, all processes at once."""
    start.wait()
    try:
        from storage import RunStore

        with RunStore(url) as store:
            store.create_run(config_from_preset("seed"))
        results.put(("ok", None))
    except BaseException:
        results.put(("error", traceback.format_exc()))


def claim_all(url: str, worker: str, start, results) -> None:
    from storage import RunStore

    claimed: list[int] = []
    try:
        with RunStore(url) as store:
            start.wait()
            while (run := store.claim_next_run(worker)) is not None:
                claimed.append(run.run_id)
        results.put((worker, claimed, None))
    except BaseException:
        results.put((worker, claimed, traceback.format_exc()))


def write_steps(url: str, run_id: int, batches: int, batch: int, start, results) -> None:
    from storage import RunStore

    try:
        with RunStore(url) as store:
            start.wait()
            for b in range(batches):
                store.append_steps(run_id, [
                    StepMetrics(step=b * batch + i, epoch=b, loss=1.0, lr=0.1, images_per_s=1.0)
                    for i in range(batch)])
                store.heartbeat(run_id, "writer")
        results.put(("writer", batches * batch, None))
    except BaseException:
        results.put(("writer", 0, traceback.format_exc()))


def read_while(url: str, run_id: int, seconds: float, start, results) -> None:
    from storage import RunFilter, RunStore

    reads = 0
    try:
        with RunStore(url) as store:
            start.wait()
            last = -1
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                rows = store.get_steps(run_id, after_step=last)
                if rows:
                    assert rows[0].step == last + 1, "steps arrive in order, none missing"
                    last = rows[-1].step
                store.list_runs(RunFilter(status="running"), sort="best_val_acc")
                reads += 1
        results.put(("reader", reads, None))
    except BaseException:
        results.put(("reader", reads, traceback.format_exc()))


def claim_and_queue(url: str, seconds: float, start, results) -> None:
    """Queues runs and claims them back, so claims' writes race the metric writer."""
    from storage import RunStore

    claims = 0
    try:
        with RunStore(url) as store:
            start.wait()
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                store.create_run(config_from_preset("seed"))
                if store.claim_next_run("claimer") is not None:
                    claims += 1
        results.put(("claimer", claims, None))
    except BaseException:
        results.put(("claimer", claims, traceback.format_exc()))
