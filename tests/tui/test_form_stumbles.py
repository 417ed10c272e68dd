"""New-run form stumbles from issue 12: presets keep typed fields, esc asks, data and device
checks, enter queues, the checkbox, momentum under adam, tag case, remembered data dir."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.tui_seed import settle, until
from textual.widgets import Checkbox, Input, Select, Static

from engine.config import validate_field
from storage.records import RunFilter
from tui import devices
from tui.screens.confirm import ConfirmDialog
from tui.screens.home import HomeScreen
from tui.screens.new_run import NewRunScreen, parse_tags


def cifar_folder(tmp_path: Path) -> Path:
    """A folder the CLI's check accepts: it holds cifar-10-batches-py/data_batch_1."""
    batches = tmp_path / "cifar" / "cifar-10-batches-py"
    batches.mkdir(parents=True)
    (batches / "data_batch_1").write_bytes(b"")
    return tmp_path / "cifar"


async def open_form(pilot) -> NewRunScreen:  # noqa: ANN001
    await settle(pilot)
    await pilot.press("n")
    await settle(pilot)
    assert isinstance(pilot.app.screen, NewRunScreen)
    return pilot.app.screen


def summary(form: NewRunScreen) -> str:
    return str(form.query_one("#form-summary", Static).render())


def error_of(form: NewRunScreen, name: str) -> str:
    return str(form.query_one(f"#e-{name}", Static).render())


async def test_changing_preset_keeps_name_data_dir_and_limit(app, tmp_path) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        form = await open_form(pilot)
        await pilot.press(*"my-run")
        form.query_one("#f-data_dir", Input).value = str(tmp_path)
        form.query_one("#f-limit_train", Input).value = "500"
        form.query_one("#f-epochs", Input).value = "3"
        await pilot.pause()
        form.query_one("#preset", Select).value = "fast"
        await settle(pilot)
        assert form.query_one("#f-name", Input).value == "my-run"
        assert form.query_one("#f-data_dir", Input).value == str(tmp_path)
        assert form.query_one("#f-limit_train", Input).value == "500"
        # Fields the preset owns do change, typed or not.
        assert form.query_one("#f-epochs", Input).value == "10"
        assert form.query_one("#f-optimizer", Select).value == "sgd"
        assert form.query_one("#f-logit_scale", Input).value == "0.125"


async def test_escape_on_a_changed_form_asks_before_discarding(app) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(pilot)
        await pilot.press(*"half")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, NewRunScreen)
        assert app.screen.query_one("#f-name", Input).value == "half"
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)


async def test_escape_on_an_untouched_form_leaves_at_once(app) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)


async def test_blank_data_dir_without_data_and_downloads_off_is_not_ready(app) -> None:
    async with app.run_test(size=(120, 40)) as pilot:  # tests run with CIFAR_TUI_OFFLINE=1
        form = await open_form(pilot)
        assert form.query_one("#f-data_dir", Input).value == ""
        assert "no CIFAR-10 in" in error_of(form, "data_dir")
        assert "to fix" in summary(form) and "ready" not in summary(form)


async def test_empty_data_dir_with_downloads_on_warns_instead_of_ready(
        app, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("CIFAR_TUI_OFFLINE")
    async with app.run_test(size=(120, 40)) as pilot:
        form = await open_form(pilot)
        form.query_one("#f-data_dir", Input).value = str(tmp_path)
        await pilot.pause()
        assert "the run downloads it first" in error_of(form, "data_dir")
        assert form.query_one("#e-data_dir", Static).has_class("warning")
        assert not form.errors and "ready" not in summary(form)


async def test_last_data_dir_used_is_remembered_and_prefilled(app, store, tmp_path) -> None:
    folder = cifar_folder(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        form = await open_form(pilot)
        form.query_one("#f-data_dir", Input).value = str(folder)
        await pilot.pause()
        assert form.errors == {}
        assert summary(form).startswith("ready")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert store.count_runs() == 1
        form = await open_form(pilot)
        assert form.query_one("#f-data_dir", Input).value == str(folder.resolve())
        assert form.errors == {} and not form.changed


@pytest.mark.parametrize(("count", "device", "problem", "warning"), [
    (0, "cuda", "this machine has no cuda; it has no NVIDIA GPU", None),
    (1, "cuda:1", "this machine has no cuda:1; it has 1 GPU(s)", None),
    (1, "cuda:0", None, None),
    (0, "cpu", None, None),
    (None, "cuda:3", None, "cannot tell whether this machine has cuda:3"),
])
async def test_device_this_machine_lacks_is_refused(
        app, monkeypatch, count, device, problem, warning) -> None:
    monkeypatch.setattr(devices, "gpu_count", lambda: count)
    async with app.run_test(size=(120, 40)) as pilot:
        form = await open_form(pilot)
        form.query_one("#f-device", Input).value = device
        await pilot.pause()
        shown = error_of(form, "device")
        if problem:
            assert problem in shown and "device" in form.errors
        elif warning:
            assert warning in shown and "device" not in form.errors
        else:
            assert shown == "" and "device" not in form.errors


def test_gpu_count_reads_proc_driver_folder(tmp_path, monkeypatch) -> None:
    (tmp_path / "0000:01:00.0").mkdir()
    (tmp_path / "0000:02:00.0").mkdir()
    monkeypatch.setattr(devices, "PROC_GPUS", tmp_path)
    devices.gpu_count.cache_clear()
    try:
        assert devices.gpu_count() == 2
    finally:
        devices.gpu_count.cache_clear()


def test_inf_reads_must_be_a_finite_number() -> None:
    assert validate_field("max_lr", float("inf")) == (
        "learning rate (--max-lr) must be a finite number, got inf")
    assert "finite" in (validate_field("momentum", float("nan")) or "")
    assert "must be a number > 0" in (validate_field("max_lr", -1.0) or "")


async def test_inf_in_the_form_says_finite(app) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        form = await open_form(pilot)
        form.query_one("#f-max_lr", Input).value = "inf"
        await pilot.pause()
        assert "must be a finite number, got inf" in error_of(form, "max_lr")


async def test_enter_in_a_field_queues_when_ready(app, store) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        form.query_one("#f-dataset", Select).value = "synthetic"
        await pilot.press(*"by-enter")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)
        assert [r.name for r in store.list_runs(RunFilter())] == ["by-enter"]


async def test_enter_with_a_problem_queues_nothing(app, store) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(pilot)  # cifar10, offline, no data: not ready
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, NewRunScreen) and store.count_runs() == 0


async def test_unchecked_checkbox_draws_no_x(app) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        form = await open_form(pilot)
        box = form.query_one("#f-tta", Checkbox)
        assert box.value is False
        style = box.get_visual_style("toggle--button")
        assert style.foreground == style.background  # the X is blank
        box.value = True
        await pilot.pause()
        style = box.get_visual_style("toggle--button")
        assert style.foreground != style.background


async def test_momentum_is_greyed_unless_optimizer_is_sgd(app) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        form = await open_form(pilot)  # seed preset: adam
        assert form.query_one("#f-momentum", Input).disabled
        form.query_one("#f-optimizer", Select).value = "sgd"
        await pilot.pause()
        assert not form.query_one("#f-momentum", Input).disabled
        form.query_one("#preset", Select).value = "fast"  # sgd
        await pilot.pause()
        assert not form.query_one("#f-momentum", Input).disabled
        form.query_one("#preset", Select).value = "seed"  # adam
        await pilot.pause()
        assert form.query_one("#f-momentum", Input).disabled
        assert form.query_one("#f-nesterov", Checkbox).disabled


def test_tags_differing_only_in_case_are_kept_once() -> None:
    assert parse_tags("Sweep, sweep, lr, SWEEP, LR") == ["Sweep", "lr"]


def test_store_keeps_tags_differing_in_case_once(store) -> None:
    from engine.config import config_from_preset

    run_id = store.create_run(config_from_preset("seed", dataset="synthetic"),
                              tags=["Sweep", "sweep", "x"])
    assert store.get_run(run_id).tags == ("Sweep", "x")
    store.add_tag(run_id, "SWEEP")
    assert store.get_run(run_id).tags == ("Sweep", "x")


async def test_dataset_dropdown_stays_above_the_footer_at_80x24(app) -> None:
    from textual.widgets import Footer
    from textual.widgets._select import SelectOverlay

    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        dataset = form.query_one("#f-dataset", Select)
        scroll = form.query_one("#form")
        # The dataset row on the form's last line, as when tabbing down onto it: its
        # dropdown would open over the footer.
        scroll.scroll_to(y=scroll.scroll_y + dataset.region.bottom - scroll.region.bottom,
                         animate=False, immediate=True)
        await pilot.pause()
        assert dataset.region.bottom == scroll.region.bottom
        dataset.focus()
        await pilot.pause()
        await pilot.press("enter")
        overlay = dataset.query_one(SelectOverlay)
        await until(pilot, lambda: overlay.display and overlay.region.height > 0)
        assert overlay.region.bottom <= form.query_one(Footer).region.y
