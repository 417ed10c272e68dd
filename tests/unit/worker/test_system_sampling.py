"""The worker's system sampler: samples a real machine into a real store while a run trains,
stops when told, and never lets a failed read or write end the run."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from support.store import cfg, finished

from engine.events import SystemSample
from storage import RunStore
from storage.errors import StoreBusy
from worker.system_sampler import SystemSampler

FAST = 0.02  # seconds between samples in these tests


def until(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    """Wait on a condition, with a deadline (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    hit = threading.Event()
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for a condition"
        hit.wait(0.01)


def running_run(store: RunStore) -> int:
    run_id = store.create_run(cfg())
    claimed = store.claim_next_run("w")
    assert claimed is not None and claimed.run_id == run_id
    return run_id


def fixed(cpu: float = 12.0) -> SystemSample:
    return SystemSample(cpu_pct=cpu, ram_used_mb=1000.0, ram_total_mb=8000.0, disk_used_pct=50.0)


def test_samples_the_real_machine_into_the_store_until_stopped(
        store: RunStore, tmp_path: Path) -> None:
    run_id = running_run(store)
    logged: list[str] = []
    sampler = SystemSampler(store, run_id, tmp_path, logged.append, every=FAST).start()
    until(lambda: len(store.get_system_samples(run_id)) >= 3)
    sampler.stop()
    assert not sampler.alive
    samples = store.get_system_samples(run_id)
    assert len(samples) == sampler.samples  # nothing is written after stop() returns
    assert all(s.ram_total_mb > 0 and 0 <= s.cpu_pct <= 100 for s in samples)
    assert logged == []


def test_a_run_that_ends_at_once_still_has_its_first_sample(
        store: RunStore, tmp_path: Path) -> None:
    run_id = running_run(store)
    sampler = SystemSampler(store, run_id, tmp_path, print, every=3600, read=lambda _p: fixed())
    sampler.start().stop()
    assert [s.cpu_pct for s in store.get_system_samples(run_id)] == [12.0]


def test_a_finished_run_keeps_its_samples(store: RunStore, tmp_path: Path) -> None:
    run_id = running_run(store)
    sampler = SystemSampler(store, run_id, tmp_path, print, every=FAST,
                            read=lambda _p: fixed()).start()
    until(lambda: sampler.samples >= 2)
    store.finish_run(run_id, finished())
    sampler.stop()
    assert store.get_run(run_id).status == "completed"
    assert len(store.get_system_samples(run_id)) == sampler.samples >= 2


def test_a_failing_read_is_logged_once_and_sampling_goes_on(
        store: RunStore, tmp_path: Path) -> None:
    run_id = running_run(store)
    calls = {"n": 0}

    def flaky(_path: object) -> SystemSample:
        calls["n"] += 1
        if calls["n"] <= 3:
            raise OSError("psutil could not read /proc/stat\nsecond line")
        return fixed(cpu=float(calls["n"]))

    logged: list[str] = []
    sampler = SystemSampler(store, run_id, tmp_path, logged.append, every=FAST, read=flaky)
    sampler.start()
    until(lambda: sampler.samples >= 2)
    sampler.stop()
    assert logged == [f"run {run_id}: could not record a system sample "
                      "(OSError: psutil could not read /proc/stat); training goes on"]
    assert [s.cpu_pct for s in store.get_system_samples(run_id)][:2] == [4.0, 5.0]


class BusyStore:
    """A store whose sample writes fail as a locked SQLite file's would."""

    def __init__(self) -> None:
        self.tries = 0

    def add_system_samples(self, run_id: int, samples: list[SystemSample]) -> None:
        self.tries += 1
        raise StoreBusy("the store is busy (locked by another process); try again")


def test_a_store_that_cannot_take_samples_is_told_once(tmp_path: Path) -> None:
    busy = BusyStore()
    logged: list[str] = []
    sampler = SystemSampler(busy, 7, tmp_path, logged.append, every=FAST,
                            read=lambda _p: fixed()).start()
    until(lambda: busy.tries >= 3)
    sampler.stop()
    assert len(logged) == 1 and "StoreBusy" in logged[0] and logged[0].startswith("run 7:")


def test_a_run_deleted_while_training_stops_the_sampler(store: RunStore, tmp_path: Path) -> None:
    run_id = running_run(store)
    store.finish_run(run_id, finished())
    store.delete_run(run_id)
    logged: list[str] = []
    sampler = SystemSampler(store, run_id, tmp_path, logged.append, every=FAST,
                            read=lambda _p: fixed()).start()
    until(lambda: not sampler.alive)
    assert logged == [] and sampler.samples == 0
