"""Snapshots of the live screen with its charts smoothed (EMA 0.9, raw faint behind)
and a pinned run drawn behind, at 80x24 and 120x40. Compare with log-Y is
test_snapshots.py's test_compare_log_loss_snapshot.

Regenerate with `pytest tests/tui/test_charts_snapshots.py --snapshot-update`, then look
at the SVGs in __snapshots__/ before committing them.
"""

from __future__ import annotations

import pytest
from support.tui_seed import settle

from tui.screens.live import LiveRunScreen
from tui.widgets.chart_pins import save_pins

SIZES = [(80, 24), (120, 40)]


@pytest.mark.parametrize("size", SIZES)
def test_live_smoothed_with_a_pinned_run_snapshot(snap_compare, app, store, seeded,  # noqa: ANN001
                                                  size) -> None:
    save_pins(store.store_id, [seeded["baseline"]])

    async def run_before(pilot) -> None:  # noqa: ANN001
        await settle(pilot)
        await pilot.app.push_screen(LiveRunScreen(seeded["live"]))
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
