"""Issue 12's "done when": at 80×24, without leaving the TUI, a new user queues runs, watches
one, cancels it, resumes it, compares, deletes, and starts and stops the worker.

Nothing is faked: the app uses the real launcher, which spawns the real worker and its
training children on this store; every step is checked in the store as well as on screen.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.e2e import kill_worker_pid
from support.tui_seed import settle, table_ids, told, until
from textual.widgets import Input, Select

from storage.records import RunFilter
from storage.runs import RunStore
from tui.app import CifarTui, make_app
from tui.screens.compare import CompareScreen
from tui.screens.confirm import ConfirmDialog
from tui.screens.home import HomeScreen
from tui.screens.live import LiveRunScreen
from tui.screens.new_run import NewRunScreen
from tui.screens.workers import WorkersScreen
from tui.widgets.run_table import RunTable
from worker import launcher

pytestmark = pytest.mark.slow

# Tiny runs on synthetic data: about a second an epoch here, so `long` can be cancelled
# mid-run and `short` finishes quickly.
TINY = {"dataset": "synthetic", "width_mult": "0.125", "limit_train": "64",
        "batch_size": "16", "log_every": "1", "device": "cpu"}


async def queue_from_form(app: CifarTui, pilot, name: str, epochs: int) -> None:  # noqa: ANN001
    await pilot.press("n")
    await until(pilot, lambda: isinstance(app.screen, NewRunScreen))
    await settle(pilot)
    form = app.screen
    for field, value in {**TINY, "name": name, "epochs": str(epochs)}.items():
        widget = form.query_one(f"#f-{field}")
        if isinstance(widget, Select):
            widget.value = value
        else:
            assert isinstance(widget, Input)
            widget.value = value
    await pilot.pause()
    await pilot.press("ctrl+s")
    await until(pilot, lambda: isinstance(app.screen, HomeScreen))


def run_named(store: RunStore, name: str):  # noqa: ANN201
    (run,) = [r for r in store.list_runs(RunFilter(), limit=100) if r.name == name]
    return run


async def cursor_to(app: CifarTui, pilot, run_id: int) -> None:  # noqa: ANN001
    await until(pilot, lambda: run_id in table_ids(app))
    app.screen.query_one(RunTable).move_cursor(row=table_ids(app).index(run_id))
    await pilot.pause()


async def answer_yes(app: CifarTui, pilot, expect: str) -> None:  # noqa: ANN001
    await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
    assert expect in app.screen.question, app.screen.question
    await pilot.press("y")
    await until(pilot, lambda: not isinstance(app.screen, ConfirmDialog))


def status_of(store: RunStore, run_id: int) -> str:
    return store.get_run(run_id).status


async def test_a_new_user_does_everything_from_the_tui_at_80x24(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    store = RunStore(url)
    app = make_app(db_url=url, poll_interval=0.3)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, HomeScreen))
            # Queue: the first run starts this store's worker, the second waits behind it.
            await queue_from_form(app, pilot, "long", epochs=60)
            await queue_from_form(app, pilot, "short", epochs=2)
            long_id, short_id = run_named(store, "long").id, run_named(store, "short").id
            await until(pilot, lambda: status_of(store, long_id) == "running", 120)

            # Watch it: the live screen receives steps.
            await cursor_to(app, pilot, long_id)
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, LiveRunScreen))
            await until(pilot, lambda: app.screen.last_step >= 8, 120)
            await until(pilot, lambda: len(store.get_run(long_id).epoch_rows) >= 2, 120)

            # Cancel from the live screen; the worker stops it and moves on to `short`.
            await pilot.press("x")
            await answer_yes(app, pilot, f"#{long_id}")
            await until(pilot, lambda: status_of(store, long_id) == "cancelled", 120)
            await until(pilot, lambda: status_of(store, short_id) == "completed", 120)
            cancelled = store.get_run(long_id)
            kept = [(e.epoch, e.train_loss) for e in cancelled.epoch_rows]
            assert len(kept) >= 2 and cancelled.checkpoints.get("last")
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, HomeScreen))

            # Resume it from home: it continues from its checkpoint and completes.
            await cursor_to(app, pilot, long_id)
            await pilot.press("R")
            await answer_yes(app, pilot, "last checkpoint")
            await until(pilot, lambda: status_of(store, long_id) == "completed", 240)
            finished = store.get_run(long_id)
            assert [e.epoch for e in finished.epoch_rows] == list(range(1, 61))
            # The epochs trained before the cancel are kept as they were, not retrained.
            assert [(e.epoch, e.train_loss) for e in finished.epoch_rows][:len(kept)] == kept
            assert [a.outcome for a in finished.attempts] == ["cancelled", "completed"]

            # Compare the two.
            await cursor_to(app, pilot, long_id)
            await pilot.press("space")
            await cursor_to(app, pilot, short_id)
            await pilot.press("space")
            await pilot.press("c")
            await until(pilot, lambda: isinstance(app.screen, CompareScreen))
            await settle(pilot)
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, HomeScreen))

            # Delete `short`: gone from the store, the table and the disk.
            short_dir = store.run_dir(short_id)
            await cursor_to(app, pilot, short_id)
            await pilot.press("delete")
            await answer_yes(app, pilot, f"#{short_id}")
            await until(pilot, lambda: short_id not in table_ids(app))
            assert store.count_runs() == 1 and not short_dir.exists()

            # The workers panel: stop the worker, start it again, stop it.
            await pilot.press("w")
            await until(pilot, lambda: isinstance(app.screen, WorkersScreen))
            await until(pilot, lambda: any(row.mine for row in app.screen.rows))
            await pilot.press("x")
            await answer_yes(app, pilot, "Stop this store's worker")
            await until(pilot, lambda: any("Stopped this store's worker" in m
                                           for m in told(app)), 60)
            assert launcher.any_live_worker(store.store_id) is None
            await until(pilot, lambda: not any(row.mine for row in app.screen.rows))
            await pilot.press("s")
            await until(pilot, lambda: any("Started this store's worker" in m
                                           for m in told(app)), 60)
            await until(pilot, lambda: any(row.mine for row in app.screen.rows))
            assert launcher.any_live_worker(store.store_id) is not None
            await pilot.press("x")
            await answer_yes(app, pilot, "Stop this store's worker")
            await until(pilot, lambda: launcher.any_live_worker(store.store_id) is None, 60)
    finally:
        for info in launcher.all_live_workers():
            if info.store_id == store.store_id:
                kill_worker_pid(info.pid)
        store.close()
