"""Fixtures for the TUI tests: a seeded real store, a fixed clock, a recorded worker start."""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_seed import NOW, FixedTime, seed_history

from storage.runs import RunStore
from tui.app import CifarTui, make_app


class WorkerStarts:
    """Stands in for launching `cifar-tui worker`: records the calls, spawns nothing."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, db_url: str) -> int:
        self.calls.append(db_url)
        return 4242


@pytest.fixture
def store_clock(monkeypatch: pytest.MonkeyPatch) -> FixedTime:
    clock = FixedTime()
    monkeypatch.setattr("storage.runs.utcnow", clock)
    return clock


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    with RunStore(f"sqlite:///{tmp_path / 'runs.db'}") as s:
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
    return make_app(store=store, poll_interval=None, clock=lambda: NOW, start_worker=worker_starts,
                    worker_alive=lambda: False)
