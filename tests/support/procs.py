"""Spawned store processes: entry points importable by name, and a group that ends them.

Each entry point waits on ``start`` so all begin at once, and puts one result tuple
on ``results``, ending in a formatted traceback or None.
"""

from __future__ import annotations

import multiprocessing as mp
import time
import traceback
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from typing import Any

from engine.config import config_from_preset
from engine.events import StepMetrics

CTX = mp.get_context("spawn")


class ChildGroup:
    """Children that start together; ``close`` ends any still running, even after a
    failed assertion, so a broken test never leaves processes holding the database."""

    def __init__(self) -> None:
        self.start_event = CTX.Event()
        self.results = CTX.Queue()
        self.procs: list[BaseProcess] = []

    def add(self, target: Callable[..., None], *args: Any) -> None:
        """Start a child running ``target(*args, start, results)``; it waits for ``go``."""
        proc = CTX.Process(target=target, args=(*args, self.start_event, self.results))
        self.procs.append(proc)
        proc.start()

    def go(self, timeout: float) -> list[tuple]:
        """Release every child at once; their results, one per child."""
        self.start_event.set()
        out = [self.results.get(timeout=timeout) for _ in self.procs]
        for proc in self.procs:
            proc.join(timeout=30)
        return out

    def close(self) -> None:
        for proc in self.procs:
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)

    def __enter__(self) -> ChildGroup:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


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
                    StepMetrics(step=b * batch + i, epoch=b, loss=1.0, lr=0.1,
                                images_per_s=1.0)
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
