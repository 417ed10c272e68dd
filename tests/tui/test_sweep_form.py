"""The new-run form's sweeps: lists and ranges typed in its fields, read and refused as
`cifar-tui sweep` reads them, counted live, and queued as a sweep with its runs."""

from __future__ import annotations

import pytest
from support.tui_seed import settle, told, until
from textual.widgets import Button, Checkbox, Input, Select, Static

from engine.sweep_spec import SweepSpecError, parse_field_values
from tui.screens.confirm import ConfirmDialog
from tui.screens.home import HomeScreen
from tui.screens.new_run import NewRunScreen


async def open_form(pilot) -> NewRunScreen:  # noqa: ANN001
    await settle(pilot)
    await pilot.press("n")
    await until(pilot, lambda: isinstance(pilot.app.screen, NewRunScreen))
    form = pilot.app.screen
    form.query_one("#f-dataset", Select).value = "synthetic"
    await pilot.pause()
    return form


async def type_into(pilot, form: NewRunScreen, field: str, text: str) -> None:  # noqa: ANN001
    """Clear the input and type ``text`` key by key, as a user would (the sweep rows are
    mounted once a field first holds a list or a range: wait for them)."""
    await until(pilot, lambda: bool(form.query(field)))
    box = form.query_one(field, Input)
    box.value = ""
    box.focus()
    await pilot.press(*text)
    await pilot.pause()


def summary(form: NewRunScreen) -> str:
    return str(form.query_one("#form-summary", Static).render())


def shown(form: NewRunScreen, widget_id: str) -> str:
    error = form.query_one(widget_id, Static)
    return str(error.render()) if error.has_class("shown") else ""


async def test_typing_lists_counts_the_runs_live_and_single_values_queue_one_run(app) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        assert summary(form).startswith("ready: enter or ctrl+s queues the run")
        assert not form.query_one("#sweep").has_class("shown")
        await type_into(pilot, form, "#f-max_lr", "0.005,0.01")
        assert "this queues 2 runs (grid: 2 points)" in summary(form)
        await pilot.press(*",0.02")
        assert "this queues 3 runs (grid: 3 points)" in summary(form)
        assert form.query_one("#sweep").has_class("shown")
        assert str(form.query_one("#queue", Button).label) == "Queue sweep  ^s"
        form.query_one("#f-optimizer", Select).value = "adam,sgd"
        await pilot.pause()
        assert "this queues 6 runs (grid: 6 points)" in summary(form)
        await type_into(pilot, form, "#s-repeat", "2")
        assert "this queues 12 runs (grid: 6 points x 2 seeds)" in summary(form)
        # Back to one value each: the form is the plain one-run form again.
        form.query_one("#f-optimizer", Select).value = "adam"
        await type_into(pilot, form, "#f-max_lr", "0.01")
        assert summary(form).startswith("ready: enter or ctrl+s queues the run")
        assert not form.query_one("#sweep").has_class("shown")
        assert str(form.query_one("#queue", Button).label) == "Queue run  ^s"


async def test_queueing_lists_creates_the_grid_sweep_and_its_runs_and_starts_a_worker(
        app, store, worker_starts) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        form = await open_form(pilot)
        form.query_one("#f-name", Input).value = "lr"
        await type_into(pilot, form, "#f-max_lr", "0.005,0.01")
        await type_into(pilot, form, "#s-repeat", "2")
        assert "this queues 4 runs" in summary(form)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, HomeScreen))
        [sweep] = store.list_sweeps()
        assert (sweep.name, sweep.method, sweep.n_trials, sweep.repeat) == ("lr", "grid", 2, 2)
        runs = store.sweep_runs(sweep.id)
        assert sorted((r.config["max_lr"], r.config["seed"]) for r in runs) == [
            (0.005, 0), (0.005, 1), (0.01, 0), (0.01, 1)]
        assert {r.status for r in runs} == {"queued"}
        assert {r.config["dataset"] for r in runs} == {"synthetic"}
        assert worker_starts.calls == [store.url]
        assert f"Queued sweep #{sweep.id}: 4 runs queued; started a worker (pid 4242)." in told(
            app)


@pytest.mark.parametrize("text", ["1e-1:1e-3:log", "1e-3:1e-1:ln", "0:1e-1:log", "0.01,,0.02"])
async def test_a_bad_list_or_range_shows_the_cli_s_words_inline_and_queues_nothing(
        app, store, worker_starts, text: str) -> None:
    with pytest.raises(SweepSpecError) as cli_says:
        parse_field_values("max_lr", text)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        await type_into(pilot, form, "#f-max_lr", text)
        assert shown(form, "#e-max_lr") == str(cli_says.value)
        assert "1 field to fix" in summary(form)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, NewRunScreen)
        assert store.list_sweeps() == [] and store.count_runs() == 0
        assert worker_starts.calls == []


async def test_a_range_picks_tpe_asks_for_trials_and_queues_a_sweep_without_runs_yet(
        app, store) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        await type_into(pilot, form, "#f-max_lr", "1e-3:1e-1:log")
        await until(pilot, lambda: bool(form.query("#s-method")))
        assert form.query_one("#s-method", Select).value == "tpe"
        assert shown(form, "#e-sweep") == ("--method tpe needs --trials N "
                                           "(how many trials to run)")
        await pilot.press("ctrl+s")  # refused, and the trials row is where to fix it
        await settle(pilot)
        assert form.query_one("#s-trials", Input).has_focus and store.list_sweeps() == []
        await pilot.press(*"5")
        assert "this queues 5 runs (tpe: 5 trials, asked one by one" in summary(form)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, HomeScreen))
        [sweep] = store.list_sweeps()
        assert (sweep.method, sweep.n_trials, sweep.trials_asked) == ("tpe", 5, 0)
        assert sweep.spec["ranges"]["max_lr"] == {
            "low": 0.001, "high": 0.1, "log": True, "integer": False}
        # A range gone, the method the form picked goes back to grid.
        form = await open_form(pilot)
        await type_into(pilot, form, "#f-max_lr", "1e-3:1e-1")
        await type_into(pilot, form, "#f-max_lr", "0.01,0.02")
        assert form.query_one("#s-method", Select).value == "grid"


async def test_more_than_100_runs_asks_first_and_no_queues_nothing(app, store) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        lrs = ",".join(f"0.0{i}" for i in range(1, 10))
        await type_into(pilot, form, "#f-max_lr", lrs)
        await type_into(pilot, form, "#f-epochs", "1,2,3,4,5,6,7,8,9,10,11,12")
        assert "this queues 108 runs" in summary(form)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        question = str(app.screen.query_one("#confirm-question", Static).render())
        assert question == ("This queues 108 runs (grid: 108 points), more than 100. "
                            "Queue them all?")
        await pilot.press("n")
        await until(pilot, lambda: app.screen is form)
        assert store.list_sweeps() == [] and store.count_runs() == 0
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, HomeScreen))
        assert store.count_runs() == 108 and len(store.list_sweeps()) == 1


async def tick(pilot, form: NewRunScreen, box_id: str) -> None:  # noqa: ANN001
    """Focus a checkbox and press space on it, as a user would."""
    form.query_one(box_id, Checkbox).focus()
    await pilot.press("space")
    await pilot.pause()


async def test_an_on_off_field_s_both_box_sweeps_it_on_and_off_as_the_cli_s_true_false(
        app, store) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        augment = form.query_one("#f-augment", Checkbox)
        assert augment.value and not augment.disabled
        await tick(pilot, form, "#both-augment")
        assert augment.disabled, "its own box greys out: both values queue"
        assert "this queues 2 runs (grid: 2 points)" in summary(form)
        assert str(form.query_one("#queue", Button).label) == "Queue sweep  ^s"
        await type_into(pilot, form, "#f-max_lr", "0.005,0.01")
        assert "this queues 4 runs (grid: 4 points)" in summary(form)
        # Unticked, it is one value again: only max_lr's list is left.
        await tick(pilot, form, "#both-augment")
        assert not augment.disabled and "this queues 2 runs" in summary(form)
        await tick(pilot, form, "#both-augment")
        form.query_one("#f-name", Input).value = "aug"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, HomeScreen))
        [sweep] = store.list_sweeps()
        runs = store.sweep_runs(sweep.id)
        assert sorted((r.config["max_lr"], r.config["augment"]) for r in runs) == [
            (0.005, False), (0.005, True), (0.01, False), (0.01, True)]
        # The same sweep as `cifar-tui queue --max-lr 0.005,0.01 --augment true,false`.
        assert sweep.spec["values"]["augment"] == [True, False]


async def test_nesterov_s_both_box_greys_out_and_sweeps_nothing_unless_the_optimizer_is_sgd(
        app, store) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        form.query_one("#f-optimizer", Select).value = "sgd"
        await pilot.pause()
        await tick(pilot, form, "#both-nesterov")
        assert "this queues 2 runs (grid: 2 points)" in summary(form)
        form.query_one("#f-optimizer", Select).value = "adam"
        await pilot.pause()
        assert form.query_one("#both-nesterov", Checkbox).disabled
        assert summary(form).startswith("ready: enter or ctrl+s queues the run")
        form.query_one("#f-optimizer", Select).value = "sgd"
        await pilot.pause()
        assert "this queues 2 runs" in summary(form)


async def test_a_preset_that_sets_an_on_off_field_replaces_its_both_and_keeps_the_others(
        app) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        await tick(pilot, form, "#both-augment")
        await tick(pilot, form, "#both-compile")
        assert "this queues 4 runs" in summary(form)
        form.query_one("#preset", Select).value = "fast"  # it sets augment, not compile
        await pilot.pause()
        assert not form.query_one("#both-augment", Checkbox).value
        assert not form.query_one("#f-augment", Checkbox).disabled
        assert form.query_one("#both-compile", Checkbox).value
        assert "this queues 2 runs" in summary(form)


async def test_every_both_box_fits_beside_its_field_at_80_columns(app) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        content = form.query_one("#form").scrollable_content_region
        for box in form.query(".both").results(Checkbox):
            box.scroll_visible(animate=False)
            await pilot.pause()
            assert box.region.width >= len("▐X▌ both") and box.region.right <= content.right, \
                box.id
