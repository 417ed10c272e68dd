"""Home screen stumbles from issue 12: names cut with an ellipsis, status and epoch cells
that fit, ages that refresh, "1 run", marks of deleted runs, tags, failure reasons and
no "no worker" before the launcher has answered."""

from __future__ import annotations

import threading
from datetime import timedelta

from support.tui_seed import NOW, settle, table_ids, until

from engine.config import config_from_preset
from tui.app import make_app
from tui.format import epochs_progress
from tui.widgets.run_table import COLUMNS, RunTable, failure_reason, fit, name_cell, runs_word

WIDTH = {key: width for key, _, _, width in COLUMNS}


def status_line(app) -> str:  # noqa: ANN001
    return str(app.screen_stack[0].query_one("#home-status").render())


def test_names_sharing_a_prefix_stay_apart_with_an_ellipsis() -> None:
    names = [f"resnet9-lr0.01-00{i}" for i in range(1, 6)]
    cut = [fit(name, 10) for name in names]
    assert len(set(cut)) == 5
    assert all("…" in c and len(c) == 10 for c in cut)
    assert cut[0] == "resne…-001"
    assert fit("short", 10) == "short"


def test_tags_follow_the_name_when_there_is_room() -> None:
    assert name_cell("baseline", ("sweep", "lr"), 30).plain == " baseline #sweep #lr"
    assert name_cell("baseline", ("sweep",), 11).plain == " baseline"  # the name wins
    assert name_cell("seed-1", ("sweep",), 11).plain == " seed-1 #sw…"


def test_running_100_percent_and_10_of_99_epochs_fit_their_columns() -> None:
    assert len(" running 100%") <= WIDTH["status"]
    assert len(" " + epochs_progress(10, 99)) <= WIDTH["epochs"]
    assert fit(epochs_progress(100, 200), WIDTH["epochs"] - 1) == "100/200"


def test_one_run_is_singular() -> None:
    assert runs_word(1) == "1 run"
    assert runs_word(0) == "0 runs"
    assert runs_word(1234) == "1,234 runs"


def test_failure_reason_is_the_first_line_cut_short() -> None:
    assert failure_reason("CUDA out of memory\nTraceback...", 40) == "CUDA out of memory"
    assert failure_reason("x" * 50, 10) == "x" * 9 + "…"


async def test_status_line_says_1_run(store, worker_starts) -> None:
    store.create_run(config_from_preset("seed", dataset="synthetic"), name="only")
    app = make_app(store=store, poll_interval=None, clock=lambda: NOW,
                   start_worker=worker_starts, worker_alive=lambda: False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert status_line(app).startswith("1 run ·")


async def test_a_long_name_is_cut_with_an_ellipsis_in_the_table(store, worker_starts) -> None:
    config = config_from_preset("seed", dataset="synthetic")
    for i in range(1, 4):
        store.create_run(config, name=f"resnet9-width-sweep-00{i}")
    app = make_app(store=store, poll_interval=None, clock=lambda: NOW,
                   start_worker=worker_starts, worker_alive=lambda: False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(RunTable)
        names = [table.get_cell(str(i), "name").plain for i in table_ids(app)]
        assert len(set(names)) == 3 and all("…" in n for n in names)
        assert names[0].endswith("-003")


async def test_tags_show_in_the_table(app, seeded) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        cell = app.screen.query_one(RunTable).get_cell(str(seeded["wide"]), "name")
        assert cell.plain.strip() == "r18-lr0.02 #sweep"


async def test_created_ages_refresh_on_the_poll(store, seeded, worker_starts) -> None:
    now = [NOW]
    app = make_app(store=store, poll_interval=None, clock=lambda: now[0],
                   start_worker=worker_starts, worker_alive=lambda: False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(RunTable)
        assert table.get_cell(str(seeded["baseline"]), "created").plain.strip() == "3h ago"
        now[0] = NOW + timedelta(hours=2)
        app.screen.poll()
        await settle(pilot)
        assert table.get_cell(str(seeded["baseline"]), "created").plain.strip() == "5h ago"


async def test_marks_of_deleted_runs_are_dropped(app, store, seeded) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(RunTable)
        table.move_cursor(row=table_ids(app).index(seeded["baseline"]))
        await pilot.press("space")
        assert table.marked == [seeded["baseline"]]
        store.delete_run(seeded["baseline"])
        app.screen.poll()
        await settle(pilot)
        assert table.marked == []
        assert "marked" not in status_line(app)
        assert seeded["baseline"] not in table_ids(app)


async def test_highlighted_failed_run_shows_why_it_failed(app, seeded) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(RunTable)
        table.move_cursor(row=table_ids(app).index(seeded["broken"]))
        await pilot.pause()
        assert status_line(app).startswith(f"#{seeded['broken']} failed: CUDA out of memory")
        table.move_cursor(row=table_ids(app).index(seeded["baseline"]))
        await pilot.pause()
        assert "failed:" not in status_line(app)


async def test_no_worker_is_not_said_before_the_launcher_answers(store, worker_starts) -> None:
    answer = threading.Event()

    def slow_alive() -> bool:  # a launcher still reading lock files after a reconnect
        answer.wait(5)
        return True

    store.create_run(config_from_preset("seed", dataset="synthetic"), name="queued-one")
    app = make_app(store=store, poll_interval=None, clock=lambda: NOW,
                   start_worker=worker_starts, worker_alive=slow_alive)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: status_line(app).startswith("1 run"))
        assert status_line(app).endswith("checking worker…")  # the launcher has not answered
        answer.set()
        await settle(pilot)
        assert "worker alive" in status_line(app)


async def test_worker_status_is_asked_at_start_not_only_on_the_poll(app, seeded) -> None:
    async with app.run_test(size=(80, 24)) as pilot:  # polling is off in these tests
        await settle(pilot)
        assert status_line(app).endswith("no worker")
