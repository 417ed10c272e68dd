"""Quitting while a screen is still being composed raises nothing: Textual stops every
widget as the app ends, and a handler that expects the screen's children (a resize, a
mount) must not find them missing. A traceback on q is what a user would see."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from support import sweeps
from support.tui_seed import settle
from textual.screen import Screen

from storage.runs import RunStore
from tui.app import make_app
from tui.messages import RunChanged, RunQueued, WorkersChanged
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


async def test_quitting_while_jobs_keep_telling_the_app_runs_changed_raises_nothing(
        store: RunStore, seeded: Ids) -> None:
    """A job's RunChanged, RunQueued or WorkersChanged can land while Textual prunes the
    screens on quit: the home screen it refreshes has lost its table by then. A thread
    floods the app with them across the quit, 15 times (without the guard, the first few
    raised NoMatches: 'RunTable')."""
    for _ in range(15):
        app = make_app(store=store, poll_interval=None)
        stop = threading.Event()

        def flood(app=app, stop=stop) -> None:  # noqa: ANN001
            while not stop.is_set():
                for message in (RunChanged(seeded["baseline"]), WorkersChanged(),
                                RunQueued(seeded["baseline"])):
                    app.post_message(message)
                stop.wait(0.0005)

        sender = threading.Thread(target=flood)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            sender.start()
            await pilot.pause(0.05)
        stop.set()
        sender.join()
        assert not app._exception
