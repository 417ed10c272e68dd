"""The sweeps list and a sweep's screen, on real sweeps: queued with worker.sweeps, their
runs trained through the store's API and told to Optuna with settle."""

from __future__ import annotations

from support import sweeps
from support.tui_seed import settle, told, until
from textual.widgets import DataTable, Static

from tui.screens.compare import CompareScreen
from tui.screens.confirm import ConfirmDialog
from tui.screens.detail import RunDetailScreen
from tui.screens.sweep import SweepScreen
from tui.screens.sweeps import SweepsScreen

ACCS = {0.005: 0.61, 0.01: 0.83, 0.02: 0.72}


def grid_of_three(store, trained: int = 3) -> list[int]:  # noqa: ANN001
    """A grid over max_lr; the first ``trained`` runs (in queue order) trained."""
    _, run_ids = sweeps.queue(store, {"max_lr": ",".join(map(str, ACCS))}, name="lr")
    for run_id, acc in list(zip(run_ids, ACCS.values(), strict=True))[:trained]:
        sweeps.train(store, run_id, acc)
    sweeps.settle(store)
    return run_ids


async def open_sweep(pilot, rows: int) -> SweepScreen:  # noqa: ANN001
    """From home: S lists the sweeps, enter opens the newest."""
    await settle(pilot)
    await pilot.press("S")
    await until(pilot, lambda: isinstance(pilot.app.screen, SweepsScreen)
                and pilot.app.screen.query_one("#sweeps", DataTable).row_count > 0)
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(pilot.app.screen, SweepScreen)
                and pilot.app.screen.query_one("#trials", DataTable).row_count == rows)
    return pilot.app.screen


def rows_of(screen: SweepScreen) -> list[list[str]]:
    table = screen.query_one("#trials", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def text_of(screen: SweepScreen, widget_id: str) -> str:
    return str(screen.query_one(widget_id, Static).render())


async def test_the_trials_are_listed_best_first_with_params_value_state_and_runs(
        app, store) -> None:
    run_ids = grid_of_three(store)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_sweep(pilot, rows=3)
        rows = rows_of(screen)
        assert [float(r[2]) for r in rows] == sorted(ACCS.values(), reverse=True)
        assert rows[0][0].endswith("*") and not rows[1][0].endswith("*")
        assert rows[0][4] == "max_lr=0.01" and rows[0][1] == "complete"
        assert rows[0][3] == f"#{run_ids[1]}"  # the 0.01 run, second in the grid
        assert "Sweep #1 lr · grid · max val_acc · completed" in text_of(screen, "#sweep-head")
        assert "3/3 trials told, 3 asked" in text_of(screen, "#sweep-facts")
        assert "best: trial 1 (0.83)" in text_of(screen, "#sweep-facts")
        best = screen.query_one("#sweep-best")
        assert best.spec.series[0].ys == [0.61, 0.83, 0.83]  # trial 0, 1, 2
        param = screen.query_one("#sweep-param")
        assert sorted(zip(param.spec.series[0].xs, param.spec.series[0].ys, strict=True)) == [
            (0.005, 0.61), (0.01, 0.83), (0.02, 0.72)]


async def test_the_screen_follows_the_sweep_while_it_runs(app, store) -> None:
    run_ids = grid_of_three(store, trained=1)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_sweep(pilot, rows=3)
        assert [r[1] for r in rows_of(screen)] == ["complete", "waiting", "waiting"]
        sweeps.train(store, run_ids[1], ACCS[0.01])  # a worker trains the next one
        screen.poll()  # what the screen's timer does (tests run without one)
        await until(pilot, lambda: [r[1] for r in rows_of(screen)] == [
            "complete", "complete", "waiting"])
        assert rows_of(screen)[0][4] == "max_lr=0.01"


async def test_enter_opens_the_trial_s_run_and_c_compares_a_trial_s_seeds(app, store) -> None:
    _, run_ids = sweeps.queue(store, {"max_lr": "0.01,0.02"}, repeat=2, name="seeds")
    for run_id, acc in zip(run_ids, (0.7, 0.72, 0.8, 0.82), strict=True):
        sweeps.train(store, run_id, acc)
    sweeps.settle(store)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_sweep(pilot, rows=2)
        assert rows_of(screen)[0][3] == f"#{run_ids[2]} +1"  # max_lr 0.02: mean 0.81
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen))
        assert app.screen.run_ids == run_ids[2:]
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunDetailScreen))
        assert app.screen.run_id == run_ids[2]


async def test_cancel_asks_saying_what_it_does_and_cancels_the_queued_runs(app, store) -> None:
    run_ids = grid_of_three(store, trained=1)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_sweep(pilot, rows=3)
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        question = str(app.screen.query_one("#confirm-question", Static).render())
        assert question == ("Cancel sweep #1 lr? No more trials are asked; its 2 queued "
                            "run(s) are cancelled now and its 0 running run(s) are asked to "
                            "stop. Finished trials and their runs are kept.")
        await pilot.press("n")
        await until(pilot, lambda: app.screen is screen)
        assert store.get_sweep(1).status == "active"
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await until(pilot, lambda: "cancelled" in text_of(screen, "#sweep-head"))
        assert store.get_sweep(1).status == "cancelled"
        assert [store.get_run(i).status for i in run_ids] == [
            "completed", "cancelled", "cancelled"]
        assert "Sweep 1 cancelled: 2 run(s) cancelled, 0 running run(s) stopping." in told(app)
        await pilot.press("x")  # nothing left to cancel: said, not asked
        await pilot.pause()
        assert app.screen is screen
        assert "sweep #1 is already cancelled; nothing to cancel" in told(app)


async def test_a_tpe_sweep_shows_its_parameter_importances(app, store) -> None:
    from worker.sweeps import top_up

    sweeps.queue(store, {"max_lr": "1e-3:1e-1:log", "optimizer": "adam,sgd"}, method="tpe",
                 trials=3)
    for _ in range(3):  # as a worker does: ask a trial, train its run, tell the study
        [run_id] = top_up(store, log=lambda _line: None)
        sweeps.train(store, run_id, 0.5 + store.get_run(run_id).config["max_lr"])
        sweeps.settle(store)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_sweep(pilot, rows=3)
        line = text_of(screen, "#sweep-importance")
        assert line.startswith("importance: ")
        assert {part.split()[0] for part in line.removeprefix("importance: ").split("  ")} == {
            "max_lr", "optimizer"}
        param = screen.query_one("#sweep-param")
        assert param.spec.title == "val_acc by max_lr (log) 1/2"
        assert param.spec.xlim == (-3.0, -1.0)  # log10 of the range's ends
        await pilot.press("p")
        assert param.spec.title == "val_acc by optimizer 2/2"
        assert param.spec.xticks == ([0.0, 1.0], ["adam", "sgd"])


async def test_the_sweeps_list_says_how_to_make_one_when_there_is_none(app) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, SweepsScreen)
                    and "no sweeps yet" in str(app.screen.query_one("#sweeps-status").render()))
        await pilot.press("enter")  # nothing to open
        await pilot.pause()
        assert isinstance(app.screen, SweepsScreen)
