"""Snapshots of the seed groups at 80x24 and 120x40: the grouped history, and two groups
compared with their curves as mean and min–max band. Fixed clocks, the seeded 2×2 grid.

Regenerate with `pytest tests/tui/test_groups_snapshots.py --snapshot-update`, then look
at the SVGs in __snapshots__/ before committing them.
"""

from __future__ import annotations

import pytest
from support.clock import FixedTime
from support.groups import GridRun, seed_grid
from support.tui_seed import settle, until
from textual.widgets import DataTable

from storage.runs import RunStore
from tui.screens.group_compare import GroupCompareScreen
from tui.widgets.group_table import GroupTable

SIZES = [(80, 24), (120, 40)]


@pytest.fixture
def grid(store: RunStore, store_clock: FixedTime) -> list[GridRun]:
    return seed_grid(store, store_clock)


async def show_groups(pilot) -> None:  # noqa: ANN001
    await settle(pilot)
    await pilot.press("a")
    table = pilot.app.screen.query_one(GroupTable)
    await until(pilot, lambda: table.row_count == 4)
    await settle(pilot)


@pytest.mark.parametrize("size", SIZES)
def test_grouped_history_snapshot(snap_compare, app, grid, size) -> None:  # noqa: ANN001
    assert snap_compare(app, terminal_size=size, run_before=show_groups)


@pytest.mark.parametrize("size", SIZES)
def test_group_compare_snapshot(snap_compare, app, grid, size) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await show_groups(pilot)
        table = pilot.app.screen.query_one(GroupTable)
        for run in (grid[2], grid[6]):  # (0.01, 400) and (0.02, 400)
            table.move_cursor(row=table.get_row_index(f"g:{run.run_id}"))
            await pilot.press("space")
        await pilot.press("c")
        await until(pilot, lambda: isinstance(pilot.app.screen, GroupCompareScreen)
                    and bool(pilot.app.screen.columns))
        # The table sizes its columns to the rows on a later idle: wait for that.
        table = pilot.app.screen.query_one("#compare-table", DataTable)
        await until(pilot, lambda: table.columns["key"].content_width >= len("best val acc"))
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
