"""Snapshots of the workers panel at 80x24 and 120x40: two live workers (this store's
training a run, another store's idle) and the tail of the training log.

Regenerate with `pytest tests/tui/test_control_snapshots.py --snapshot-update`, then
look at the SVGs in __snapshots__/ before committing them.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from support.tui_seed import NOW, settle
from support.workers import FakeWorkers

from storage.runs import RunStore
from tui.app import CifarTui, make_app

SIZES = [(80, 24), (120, 40)]


@pytest.fixture
def app(store: RunStore, seeded: dict[str, int], tmp_path: Path) -> CifarTui:
    workers = FakeWorkers(store.store_id, NOW.timestamp() - 754, tmp_path)
    host = socket.gethostname()
    queued = seeded["queued"]
    store.claim_next_run(f"{host}:4243:cpu", "cpu", host)
    store.run_dir(queued).mkdir(parents=True)
    (store.run_dir(queued) / "train.log").write_text("".join(
        f"epoch {i // 4 + 1} step {i * 20:>4}  loss {2.3 / (i + 1):.3f}  5,180 img/s\n"
        for i in range(30)))
    workers.add(store.store_id, "cpu", 4243, ["claimed"])
    workers.add("feedbeef-0000", "cuda:0", 999, ["other store"])
    return make_app(store=store, poll_interval=None, clock=lambda: NOW, **workers.app_kwargs())


@pytest.mark.parametrize("size", SIZES)
def test_workers_panel_snapshot(snap_compare, app, size) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await settle(pilot)
        await pilot.press("w")
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
