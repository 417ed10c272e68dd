"""The new-run form: queue a run, refuse bad input, refill from presets and duplicates."""

from __future__ import annotations

from support.tui_seed import settle, table_ids
from textual.widgets import Checkbox, Input, Select, Static

from storage.records import RunFilter
from tui.screens.home import HomeScreen
from tui.screens.new_run import NewRunScreen


async def test_queue_from_form_appears_in_table_and_store_and_starts_worker(
        app, store, worker_starts) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert table_ids(app) == []
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, NewRunScreen)
        form = app.screen
        form.query_one("#f-name", Input).value = "from-the-form"
        form.query_one("#f-dataset", Select).value = "synthetic"
        form.query_one("#f-epochs", Input).value = "3"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)
        runs = store.list_runs(RunFilter())
        assert [(r.name, r.status, r.epochs, r.dataset) for r in runs] == [
            ("from-the-form", "queued", 3, "synthetic")]
        assert table_ids(app) == [runs[0].id]
        assert worker_starts.calls == [store.url]


async def test_bad_max_lr_shows_the_cli_message_and_queues_nothing(
        app, store, worker_starts) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        await settle(pilot)
        form = app.screen
        form.query_one("#f-dataset", Select).value = "synthetic"
        form.query_one("#f-max_lr", Input).value = "-1"
        await pilot.pause()
        error = form.query_one("#e-max_lr", Static)
        assert "learning rate (--max-lr) must be a number > 0, got -1.0" in str(error.render())
        assert error.has_class("shown")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, NewRunScreen)
        assert store.count_runs() == 0
        assert worker_starts.calls == []


async def test_text_in_a_number_field_is_refused_with_parse_message(app) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        await settle(pilot)
        app.screen.query_one("#f-epochs", Input).value = "eight"
        await pilot.pause()
        error = app.screen.query_one("#e-epochs", Static)
        assert "epochs must be a whole number, got 'eight'" in str(error.render())


async def test_missing_cifar_data_is_flagged_on_the_data_dir_field(app) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        await settle(pilot)
        form = app.screen
        assert "downloads are off" in str(form.query_one("#e-data_dir", Static).render())
        form.query_one("#f-dataset", Select).value = "synthetic"
        await pilot.pause()
        assert not form.query_one("#e-data_dir", Static).has_class("shown")


async def test_choosing_a_preset_refills_the_fields(app) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        await settle(pilot)
        form = app.screen
        form.query_one("#f-max_lr", Input).value = "0.5"
        form.query_one("#preset", Select).value = "fast"
        await pilot.pause()
        assert form.query_one("#f-max_lr", Input).value == "0.4"
        assert form.query_one("#f-optimizer", Select).value == "sgd"
        assert form.query_one("#f-grad_clip", Input).value == ""


async def test_duplicate_prefills_the_form_from_a_stored_run(
        app, store, seeded, worker_starts) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table_row = table_ids(app).index(seeded["wide"])
        app.screen.query_one("#runs").move_cursor(row=table_row)
        await pilot.press("D")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, NewRunScreen)
        assert form.query_one("#f-model", Select).value == "resnet18"
        assert form.query_one("#f-max_lr", Input).value == "0.02"
        assert form.query_one("#f-name", Input).value == ""
        await pilot.press("ctrl+s")
        await settle(pilot)
        newest = store.list_runs(limit=1)[0]
        assert newest.id not in seeded.values()
        assert (newest.model, newest.max_lr, newest.status) == ("resnet18", 0.02, "queued")
        assert worker_starts.calls == [store.url]


async def test_q_on_a_select_does_not_throw_away_the_form(tmp_path) -> None:
    from tui.app import make_app
    from tui.screens.new_run import NewRunScreen

    app = make_app(db_url=f"sqlite:///{tmp_path / 'q.db'}", start_worker=lambda *a, **k: 0,
                   worker_alive=lambda: False, poll_interval=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, NewRunScreen)
        app.screen.query_one("Select").focus()
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, NewRunScreen)
        assert app.is_running


async def test_form_cli_and_validator_cover_exactly_the_field_table(app) -> None:
    """All three are generated from one table, so a field cannot be missing from one of them."""
    import argparse
    import dataclasses

    from cli.config_args import add_config_arguments
    from engine.config import FIELDS, RunConfig, validate_field

    table = set(FIELDS)
    assert table == {f.name for f in dataclasses.fields(RunConfig)}
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    assert {a.dest for a in parser._actions} - {"help"} == table
    assert {name for name in table if validate_field(name, object()) is not None} == table
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        await settle(pilot)
        ids = {w.id for w in app.screen.query("#form *") if w.id}
        inputs = {i[2:] for i in ids if i.startswith("f-")} | ({"preset"} & ids)
        assert inputs == table | {"tags"}  # tags: a queue option, like `cifar-tui queue --tag`


async def test_form_queues_logit_scale_log_every_compile_and_tags(
        app, store, worker_starts) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        await settle(pilot)
        form = app.screen
        form.query_one("#f-dataset", Select).value = "synthetic"
        form.query_one("#f-logit_scale", Input).value = "0.125"
        form.query_one("#f-log_every", Input).value = "25"
        form.query_one("#f-tags", Input).value = "sweep, lr , sweep,"
        compile_box = form.query_one("#f-compile", Checkbox)
        assert compile_box.value is False
        compile_box.value = True
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)
        [run] = store.list_runs(RunFilter())
        detail = store.get_run(run.id)
        assert (detail.config["logit_scale"], detail.config["log_every"]) == (0.125, 25)
        assert detail.config["compile"] is True
        assert sorted(detail.tags) == ["lr", "sweep"]
        assert detail.max_retries == 1  # like `cifar-tui queue`: one automatic retry
        assert worker_starts.calls == [store.url]


async def test_huge_epochs_is_refused_inline_and_queues_nothing(app, store, worker_starts) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        await settle(pilot)
        form = app.screen
        form.query_one("#f-dataset", Select).value = "synthetic"
        form.query_one("#f-epochs", Input).value = "100000000000000000000"
        form.query_one("#f-tags", Input).value = "x" * 65
        await pilot.pause()
        assert str(form.query_one("#e-epochs", Static).render()) == (
            "epochs (--epochs) must be at most 10000, got 100000000000000000000")
        assert "a tag must be 1 to 64 characters" in str(form.query_one("#e-tags", Static).render())
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, NewRunScreen)
        assert store.count_runs() == 0 and worker_starts.calls == []
