"""Fixtures for the TUI tests: a seeded real store, a fixed clock, a recorded worker start."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.clock import FixedTime
from support.tui_seed import NOW, WorkerStarts, seed_history

from storage.runs import RunStore
from tui.app import CifarTui, make_app


@pytest.fixture
def store_clock() -> FixedTime:
    return FixedTime()


@pytest.fixture
def store(tmp_path: Path, store_clock: FixedTime) -> Iterator[RunStore]:
    with RunStore(f"sqlite:///{tmp_path / 'runs.db'}", clock=store_clock) as s:
        yield s


@pytest.fixture
def seeded(store: RunStore, store_clock: FixedTime) -> dict[str, int]:
    return seed_history(store, store_clock)


@pytest.fixture
def worker_starts() -> WorkerStarts:
    return WorkerStarts()


@pytest.fixture
def app(store: RunStore, worker_starts: WorkerStarts) -> CifarTui:
    """No polling timer (tests call poll() when they want one) and a fixed clock."""
    return make_app(store=store, poll_interval=None, clock=lambda: NOW,
                    start_worker=worker_starts, worker_alive=lambda: False)
