"""Resume, delete, cancel and the workers panel: the question asked (or the refusal
told without one) matches what happens, and the store says it happened."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from support.tui_seed import NOW, settle, table_ids, told
from support.workers import FakeWorkers
from textual.widgets import DataTable, Static

from storage.errors import RunNotFound
from storage.runs import RunStore
from tui.app import CifarTui, make_app
from tui.screens.confirm import ConfirmDialog
from tui.screens.home import HomeScreen
from tui.screens.workers import WorkersScreen
from tui.widgets.run_table import RunTable


@pytest.fixture
def workers(store: RunStore, tmp_path: Path) -> FakeWorkers:
    return FakeWorkers(store.store_id, NOW.timestamp() - 754, tmp_path)


@pytest.fixture
def app(store: RunStore, workers: FakeWorkers) -> CifarTui:
    return make_app(store=store, poll_interval=None, clock=lambda: NOW, **workers.app_kwargs())


def question(app: CifarTui) -> str:
    assert isinstance(app.screen, ConfirmDialog), app.screen
    return app.screen.question


async def press_on(app: CifarTui, pilot, run_id: int, *keys: str) -> None:  # noqa: ANN001
    await settle(pilot)
    app.screen.query_one(RunTable).move_cursor(row=table_ids(app).index(run_id))
    for key in keys:
        await pilot.press(key)
        await settle(pilot)


async def test_cancel_of_a_completed_run_is_refused_without_a_dialog(app, store, seeded) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await press_on(app, pilot, seeded["baseline"], "x")
        assert isinstance(app.screen, HomeScreen)
        assert told(app) == [f"run #{seeded['baseline']} is completed; nothing to cancel"]
        assert store.get_run(seeded["baseline"]).status == "completed"


async def test_cancel_of_a_running_run_says_when_it_stops(app, store, seeded) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await press_on(app, pilot, seeded["live"], "x")
        assert question(app) == f"Cancel run #{seeded['live']}? It stops after its current step."
        await pilot.press("y")
        await settle(pilot)
        assert store.get_run(seeded["live"]).cancel_requested


async def test_resume_of_a_failed_run_without_checkpoint_starts_over_and_a_worker(
        app, store, seeded, workers) -> None:
    run_id = seeded["broken"]
    async with app.run_test(size=(80, 24)) as pilot:
        await press_on(app, pilot, run_id, "R")
        assert question(app) == (f"Resume run #{run_id} from the start (no checkpoint)? "
                                 "No worker is running: this starts this store's worker.")
        await pilot.press("y")
        await settle(pilot)
        run = store.get_run(run_id)
        assert run.status == "queued" and run.resume_checkpoint is None and run.error is None
        assert workers.starts == [store.url]
        assert told(app)[-1] == (f"Run #{run_id} requeued to resume from the start; "
                                  "started this store's worker (pid 4242).")


async def test_resume_of_a_cancelled_run_uses_its_last_checkpoint(
        app, store, seeded, workers, tmp_path) -> None:
    run_id = seeded["live"]
    last = store.run_dir(run_id) / "last.pt"
    last.parent.mkdir(parents=True)
    last.write_bytes(b"x" * 10)
    store.set_checkpoint(run_id, "last", str(last))
    store.mark_cancelled(run_id)
    workers.add(store.store_id, "cuda:0", 77, [])  # alive: nothing to start
    async with app.run_test(size=(80, 24)) as pilot:
        await press_on(app, pilot, run_id, "d", "R")
        assert question(app) == f"Resume run #{run_id} from its last checkpoint (epoch 3)?"
        await pilot.press("y")
        await settle(pilot)
        run = store.get_run(run_id)
        assert run.status == "queued" and run.resume_checkpoint == str(last)
        assert workers.starts == []


async def test_resume_of_a_completed_run_is_refused_without_a_dialog(app, store, seeded) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await press_on(app, pilot, seeded["wide"], "R")
        assert isinstance(app.screen, HomeScreen)
        assert told(app) == [f"run #{seeded['wide']} is completed; only an interrupted, "
                              "failed or cancelled run can be resumed"]
        assert store.get_run(seeded["wide"]).status == "completed"


async def test_delete_of_a_running_run_is_refused_up_front(app, store, seeded) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await press_on(app, pilot, seeded["live"], "delete")
        assert isinstance(app.screen, HomeScreen)
        assert told(app) == [f"run #{seeded['live']} is running; cancel it first (x), "
                              "then delete it"]
        assert store.get_run(seeded["live"]).status == "running"


async def test_delete_says_what_it_frees_then_frees_it(app, store, seeded) -> None:
    run_id = seeded["baseline"]
    folder = store.run_dir(run_id)
    folder.mkdir(parents=True)
    for kind in ("best", "last"):
        (folder / f"{kind}.pt").write_bytes(b"x" * 6_000_000)
        store.set_checkpoint(run_id, kind, str(folder / f"{kind}.pt"))
    async with app.run_test(size=(80, 24)) as pilot:
        await press_on(app, pilot, run_id, "d", "delete")
        assert question(app) == (f"Delete run #{run_id} (baseline) and its 12.0 MB of "
                                 "checkpoints and logs? This cannot be undone.")
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)  # the run's detail is gone with it
        with pytest.raises(RunNotFound):
            store.get_run(run_id)
        assert not folder.exists() and run_id not in table_ids(app)
        assert told(app)[-1] == f"Deleted run #{run_id} and 12.0 MB of checkpoints and logs."


async def test_declining_a_delete_keeps_the_run(app, store, seeded) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await press_on(app, pilot, seeded["broken"], "delete")
        assert question(app) == (f"Delete run #{seeded['broken']} (too-big) and all its "
                                 "metrics? This cannot be undone.")
        await pilot.press("n")
        await settle(pilot)
        assert store.get_run(seeded["broken"]).status == "failed"


def panel_text(app: CifarTui) -> str:
    screen = app.screen
    assert isinstance(screen, WorkersScreen)
    table = screen.query_one(DataTable)
    rows = [" | ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]
    title = screen.query_one("#workers-log-title", Static).content
    return "\n".join([*rows, str(title), str(screen.query_one("#workers-log", Static).content)])


async def test_workers_panel_starts_and_stops_this_stores_worker(app, store, seeded,
                                                                 workers) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("w")
        await settle(pilot)
        assert "No worker is running. Press s" in panel_text(app)
        await pilot.press("s")
        await settle(pilot)
        assert workers.starts == [store.url]
        assert told(app)[-1] == "Started this store's worker (pid 4242, device auto)."
        assert "this store | auto | 4242 | 12m | idle" in panel_text(app)
        await pilot.press("s")
        await settle(pilot)
        assert told(app)[-1] == "This store's worker is already running (pid 4242)."
        await pilot.press("x")
        await settle(pilot)
        assert question(app) == "Stop this store's worker (pid 4242, auto)? It is idle."
        await pilot.press("y")
        await settle(pilot)
        assert workers.stops == 1 and workers.live == []
        assert told(app)[-1] == "Stopped this store's worker (pid 4242)."
        assert "No worker is running" in panel_text(app)


async def test_workers_panel_shows_the_run_and_its_log_tail(app, store, seeded,
                                                            workers) -> None:
    queued = seeded["queued"]
    store.claim_next_run(f"{socket.gethostname()}:4243:cpu", "cpu", socket.gethostname())
    store.run_dir(queued).mkdir(parents=True)
    (store.run_dir(queued) / "train.log").write_text(
        "".join(f"epoch line {i}\n" for i in range(40)))
    workers.add(store.store_id, "cpu", 4243, ["claimed"])
    workers.add("feedbeef-0000", "cuda:0", 999, ["other store"])
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("w")
        await settle(pilot)
        text = panel_text(app)
        assert f"this store | cpu | 4243 | 12m | #{queued} seed-1" in text
        assert "other feedbeef | cuda:0 | 999 | 12m | –" in text
        assert f"log run #{queued} train.log" in text
        assert "epoch line 39" in text and "epoch line 25" in text
        assert "epoch line 24" not in text  # the last 15 lines only
        await pilot.press("x")
        await settle(pilot)
        assert question(app) == (f"Stop this store's worker (pid 4243, cpu)? Its run #{queued} "
                                 "becomes interrupted (resume it with R).")


async def test_home_says_queued_runs_wait_with_no_worker(app, store, seeded) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.screen.poll()
        await settle(pilot)
        status = str(app.screen.query_one("#home-status", Static).content)
        assert "1 queued, no worker: press w" in status


async def test_a_poll_read_before_a_stop_does_not_bring_the_stopped_worker_back(
        app, store, seeded, workers) -> None:
    workers.add(store.store_id, "auto", 4242, ["worker started"])
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("w")
        await settle(pilot)
        screen = app.screen
        assert "this store | auto | 4242" in panel_text(app)
        poll_begun_before_the_stop = screen.read_rows()  # its thread is still reading
        await pilot.press("x", "y")
        await settle(pilot)
        assert told(app)[-1] == "Stopped this store's worker (pid 4242)."
        assert "No worker is running" in panel_text(app)
        screen.post_message(poll_begun_before_the_stop)  # ...and it lands last
        await settle(pilot)
        assert "No worker is running" in panel_text(app)
        assert "4242" not in panel_text(app)
