"""Snapshots of the key screens at 80x24 and 120x40 on a seeded store, with fixed clocks.

Regenerate with `pytest tests/tui/test_snapshots.py --snapshot-update`, then look at
the SVGs in __snapshots__/ before committing them.
"""

from __future__ import annotations

import pytest
from support.tui_seed import seed_exploded, settle, table_ids

from tui.screens.compare import CompareScreen
from tui.widgets.run_table import RunTable

SIZES = [(80, 24), (120, 40)]


def open_run(run_id: int, key: str):  # noqa: ANN201
    async def run_before(pilot) -> None:  # noqa: ANN001
        await settle(pilot)
        pilot.app.screen.query_one(RunTable).move_cursor(row=table_ids(pilot.app).index(run_id))
        await pilot.press(key)
        await settle(pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_home_snapshot(snap_compare, app, seeded, size) -> None:  # noqa: ANN001
    assert snap_compare(app, terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES)
def test_new_run_form_snapshot(snap_compare, app, seeded, size) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        await pilot.press(*"lr-test")
        form = pilot.app.screen
        form.query_one("#f-dataset").value = "synthetic"
        form.query_one("#f-max_lr").value = "-1"
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_live_run_snapshot(snap_compare, app, seeded, size) -> None:  # noqa: ANN001
    assert snap_compare(app, terminal_size=size, run_before=open_run(seeded["live"], "l"))


@pytest.mark.parametrize("size", SIZES)
def test_compare_snapshot(snap_compare, app, seeded, size) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await settle(pilot)
        pilot.app.screen.query_one(RunTable).move_cursor(row=table_ids(pilot.app).index(seeded["wide"]))
        await pilot.press("space", "space", "c")
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_compare_log_loss_snapshot(snap_compare, app, store, store_clock, size) -> None:  # noqa: ANN001
    """An exploded run (val loss 829,933) turns the loss axis log by itself."""
    ids = seed_exploded(store, store_clock)

    async def run_before(pilot) -> None:  # noqa: ANN001
        await settle(pilot)
        await pilot.app.push_screen(CompareScreen(list(ids.values())))
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_run_detail_snapshot(snap_compare, app, seeded) -> None:  # noqa: ANN001
    assert snap_compare(app, terminal_size=(120, 40), run_before=open_run(seeded["baseline"], "d"))


def push(screen_of):  # noqa: ANN001, ANN201
    """Straight to a screen (``screen_of(app)`` builds it), not through the run table."""
    async def run_before(pilot) -> None:  # noqa: ANN001
        await settle(pilot)
        await pilot.app.push_screen(screen_of(pilot.app))
        await settle(pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_failed_run_detail_snapshot(snap_compare, app, seeded, size) -> None:  # noqa: ANN001
    """The error and traceback first, right under the title."""
    from tui.screens.detail import RunDetailScreen

    assert snap_compare(app, terminal_size=size,
                        run_before=push(lambda _: RunDetailScreen(seeded["broken"])))


@pytest.mark.parametrize("size", SIZES)
def test_confusion_grid_snapshot(snap_compare, app, seeded, size) -> None:  # noqa: ANN001
    """Short class names: the grid fits 80 columns, no wrapped rows, no nested scroll."""
    from tui.screens.detail import RunDetailScreen

    async def run_before(pilot) -> None:  # noqa: ANN001
        await push(lambda _: RunDetailScreen(seeded["baseline"]))(pilot)
        pilot.app.screen.query_one("#detail").scroll_end(animate=False)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)
