"""Snapshots of a sweep's screen at 80x24 and 120x40: a real 3x2 grid (max_lr x optimizer)
with five trials trained and one waiting, fixed clocks.

Regenerate with `pytest tests/tui/test_sweep_snapshots.py --snapshot-update`, then look
at the SVGs in __snapshots__/ before committing them.
"""

from __future__ import annotations

import pytest
from support import sweeps
from support.tui_seed import settle, until
from textual.widgets import DataTable

from storage.runs import RunStore
from tui.screens.sweep import SweepScreen
from tui.screens.sweeps import SweepsScreen

SIZES = [(80, 24), (120, 40)]
VAL_ACCS = (0.61, 0.58, 0.83, 0.79, 0.72)  # the grid's first five runs; the sixth waits


@pytest.fixture
def grid(store: RunStore) -> list[int]:
    _, run_ids = sweeps.queue(store, {"max_lr": "0.005,0.01,0.02", "optimizer": "adam,sgd"},
                              name="lr-opt")
    for run_id, acc in zip(run_ids, VAL_ACCS, strict=False):
        sweeps.train(store, run_id, acc)
    sweeps.settle(store)
    return run_ids


@pytest.mark.parametrize("size", SIZES)
def test_sweep_screen_snapshot(snap_compare, app, grid, size) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await settle(pilot)
        await pilot.press("S")
        await until(pilot, lambda: isinstance(pilot.app.screen, SweepsScreen)
                    and pilot.app.screen.query_one("#sweeps", DataTable).row_count == 1)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, SweepScreen)
                    and pilot.app.screen.query_one("#trials", DataTable).row_count == 6)
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_sweeps_list_snapshot(snap_compare, app, grid, size) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await settle(pilot)
        await pilot.press("S")
        await until(pilot, lambda: isinstance(pilot.app.screen, SweepsScreen)
                    and pilot.app.screen.query_one("#sweeps", DataTable).row_count == 1)
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
