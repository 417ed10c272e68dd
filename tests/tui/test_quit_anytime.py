"""Quitting while a screen is still being composed raises nothing: Textual stops every
widget as the app ends, and a handler that expects the screen's children (a resize, a
mount) must not find them missing. A traceback on q is what a user would see."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from support import sweeps
from textual.screen import Screen

from storage.runs import RunStore
from tui.screens.compare import CompareScreen
from tui.screens.detail import RunDetailScreen
from tui.screens.group_compare import GroupCompareScreen
from tui.screens.help import HelpScreen
from tui.screens.live import LiveRunScreen
from tui.screens.new_run import NewRunScreen
from tui.screens.run_log import RunLogScreen
from tui.screens.sweep import SweepScreen
from tui.screens.sweeps import SweepsScreen
from tui.screens.system import SystemScreen
from tui.screens.workers import WorkersScreen

Ids = dict[str, int]
SCREENS: dict[str, Callable[[Ids], Screen]] = {
    "detail": lambda ids: RunDetailScreen(ids["baseline"]),
    "failed-detail": lambda ids: RunDetailScreen(ids["broken"]),
    "live": lambda ids: LiveRunScreen(ids["live"]),
    "compare": lambda ids: CompareScreen([ids["baseline"], ids["wide"]]),
    "group-compare": lambda ids: GroupCompareScreen([f"g:{ids['baseline']}",
                                                     f"g:{ids['wide']}"]),
    "run-log": lambda ids: RunLogScreen(ids["live"]),
    "new-run": lambda ids: NewRunScreen(),
    "duplicate": lambda ids: NewRunScreen(source_run=ids["wide"]),
    "sweeps": lambda ids: SweepsScreen(),
    "sweep": lambda ids: SweepScreen(ids["sweep"]),
    "workers": lambda ids: WorkersScreen(),
    "system": lambda ids: SystemScreen(),
    "help": lambda ids: HelpScreen(),
}


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("name", list(SCREENS))
async def test_quitting_while_a_screen_is_composed_raises_nothing(
        app, store: RunStore, seeded: Ids, name: str, size: tuple[int, int]) -> None:
    sweep_id, _ = sweeps.queue(store, {"max_lr": "0.01,0.02"}, name="two")
    screen = SCREENS[name]({**seeded, "sweep": sweep_id})
    async with app.run_test(size=size):
        app.push_screen(screen)  # and quit at once: run_test raises what the app raised
    assert not app._exception
