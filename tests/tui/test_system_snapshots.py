"""Snapshots of the system pane at 80x24 and 120x40: two GPUs (one without a power sensor)
with a few refreshes of history, and a machine without NVML.

Regenerate with `pytest tests/tui/test_system_snapshots.py --snapshot-update`, then look at
the SVGs in __snapshots__/ before committing them.
"""

from __future__ import annotations

import pytest
from support.fake_machine import NO_DRIVER, FakeMachine
from support.tui_seed import settle

from tui.screens.system import SystemScreen

SIZES = [(80, 24), (120, 40)]


def pane(reader: FakeMachine, refreshes: int):  # noqa: ANN201
    async def run_before(pilot) -> None:  # noqa: ANN001
        await settle(pilot)
        screen = SystemScreen(reader=reader)
        await pilot.app.push_screen(screen)
        await settle(pilot)
        for _ in range(refreshes):
            screen.poll()
            await settle(pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_system_pane_two_gpus_snapshot(snap_compare, app, size) -> None:  # noqa: ANN001
    assert snap_compare(app, terminal_size=size, run_before=pane(FakeMachine(), 7))


@pytest.mark.parametrize("size", SIZES)
def test_system_pane_without_nvml_snapshot(snap_compare, app, size) -> None:  # noqa: ANN001
    assert snap_compare(app, terminal_size=size, run_before=pane(FakeMachine((), NO_DRIVER), 0))
