"""The retry policy of the worker's store calls, on a real store whose calls fail first."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.store import cfg

from storage import RunNotFound, RunStore
from storage.errors import StoreDiskFull
from worker.store_retry import RetryingStore


class FailingFirst:
    """A real store whose next ``failures`` calls raise ``error`` first."""

    def __init__(self, store: RunStore, failures: int, error: Exception):
        self.store, self.failures, self.error = store, failures, error

    def __getattr__(self, name: str):
        method = getattr(self.store, name)

        def call(*args, **kwargs):
            if self.failures:
                self.failures -= 1
                raise self.error
            return method(*args, **kwargs)

        return call


def test_a_full_disk_that_clears_is_retried_and_the_write_lands(db_path: Path) -> None:
    with RunStore(str(db_path)) as store:
        lines: list[str] = []
        full = StoreDiskFull(f"disk full: the store {db_path} could not be written")
        retrying = RetryingStore(FailingFirst(store, 2, full), lines.append, delays=(0, 0, 0))
        assert retrying.create_run(cfg()) == 1
        assert store.get_run(1).status == "queued"
        assert len(lines) == 2 and all("retry" in line and "disk full" in line for line in lines)


def test_a_store_that_stays_full_raises_after_the_retries(db_path: Path) -> None:
    with RunStore(str(db_path)) as store:
        lines: list[str] = []
        retrying = RetryingStore(FailingFirst(store, 10, StoreDiskFull("disk full")),
                                 lines.append, delays=(0, 0))
        with pytest.raises(StoreDiskFull):
            retrying.create_run(cfg())
        assert len(lines) == 2 and store.count_runs() == 0


def test_a_problem_of_the_call_itself_is_never_retried(db_path: Path) -> None:
    with RunStore(str(db_path)) as store:
        lines: list[str] = []
        with pytest.raises(RunNotFound):
            RetryingStore(store, lines.append, delays=(0, 0)).get_run(7)
        assert lines == []
        assert RetryingStore(store, lines.append).store_id == store.store_id  # attributes too
