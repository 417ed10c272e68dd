"""Issue 12, Speed: what the TUI prepares ahead (the next new-run form, the other screens'
imports) behaves exactly like what it replaces, and a hidden home screen stops polling.

The timings themselves are measured in benchmarks/tui.py, never here."""

from __future__ import annotations

import subprocess
import sys
import weakref
from pathlib import Path

from support.tui_seed import settle, table_ids, until
from textual.widgets import Input, Select, Static

from engine.config import config_from_preset
from tui import form_memory
from tui.screens.home import HomeScreen
from tui.screens.new_run import NewRunScreen
from tui.widgets.keys_footer import KeysFooter

REPO = Path(__file__).resolve().parents[2]


def title_of(form: NewRunScreen) -> str:
    return str(form.query_one("#form-title", Static).render())


async def test_the_next_form_is_built_once_runs_are_shown_and_n_shows_that_form(app) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await until(pilot, lambda: app.next_form is not None and app.next_form.composed)
        ready = app.next_form
        assert ready not in app.screen_stack
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NewRunScreen))
        assert app.screen is ready and app.next_form is None
        assert ready.query_one("#f-name", Input).has_focus
        ready.query_one("#f-name", Input).value = "typed"
        await pilot.pause()
        ready.dismiss(None)
        # A fresh form is built for the next open: nothing typed in the last one shows.
        await until(pilot, lambda: app.next_form is not None and app.next_form.composed)
        assert app.next_form is not ready
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NewRunScreen))
        form = app.screen
        assert form.query_one("#f-name", Input).value == "" and not form.changed
        assert title_of(form) == "New run"
        assert form.query_one("#preset", Select).value == "seed"


async def test_a_closed_form_is_freed_by_the_time_the_next_one_is_ready(app) -> None:
    """Its ~11,000 widget objects are cyclic garbage, collected while the next form is
    built. (The first form used to be built before the app froze its long-lived objects
    for the collector, and so was kept, frozen, for the app's whole life.)"""
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await until(pilot, lambda: app.next_form is not None and app.next_form.composed)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NewRunScreen))
        closed = weakref.ref(app.screen)
        await pilot.press("escape")
        await until(pilot, lambda: app.next_form is not None and app.next_form.composed)
        assert closed() is None


async def test_a_form_built_ahead_shows_a_folder_remembered_after_it_was_built(
        app, tmp_path) -> None:
    folder = tmp_path / "cifar" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    (folder / "data_batch_1").write_bytes(b"")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await until(pilot, lambda: app.next_form is not None and app.next_form.composed)
        form_memory.remember_data_dir(str(folder.parent))  # by another form, another TUI
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NewRunScreen))
        await pilot.pause()
        form = app.screen
        assert form.query_one("#f-data_dir", Input).value == str(folder.parent)
        assert "data_dir" not in form.errors and not form.changed


async def test_duplicate_retitles_the_form_built_ahead_and_fills_it_from_the_run(
        app, seeded) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await until(pilot, lambda: app.next_form is not None and app.next_form.composed)
        ready = app.next_form
        app.screen.query_one("#runs").move_cursor(row=table_ids(app).index(seeded["wide"]))
        await pilot.press("D")
        await settle(pilot)
        assert app.screen is ready
        assert title_of(ready) == f"New run (duplicate of #{seeded['wide']})"
        assert ready.query_one("#f-model", Select).value == "resnet18"
        assert ready.query_one("#f-max_lr", Input).value == "0.02"


async def test_home_under_another_screen_polls_again_only_when_shown(app, store) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        home = app.screen
        assert isinstance(home, HomeScreen)
        before = len(table_ids(app))
        await pilot.press("n")  # the form covers the whole screen (help would not)
        await until(pilot, lambda: isinstance(app.screen, NewRunScreen))
        store.create_run(config_from_preset("seed", dataset="synthetic"), name="added")
        home.poll()
        await settle(pilot)
        assert home.missed_poll and len(table_ids(app)) == before
        await pilot.press("escape")
        await until(pilot, lambda: len(table_ids(app)) == before + 1)
        assert not home.missed_poll


async def test_footer_keeps_its_keys_while_focus_moves_between_alike_fields(app) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NewRunScreen))
        await settle(pilot)
        footer = app.screen.query_one(KeysFooter)
        keys = list(footer.children)
        assert keys, "the footer shows the form's keys"
        app.screen.query_one("#f-width_mult", Input).focus()
        await settle(pilot)
        assert list(footer.children) == keys  # the same widgets: nothing was rebuilt


def test_importing_the_app_leaves_the_other_screens_and_plotext_for_later() -> None:
    code = ("import sys, tui.app; print(sorted(m for m in ('plotext', 'tui.screens.live', "
            "'tui.screens.new_run', 'tui.screens.compare') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


async def test_quitting_while_the_form_is_being_built_ahead_raises_nothing(app, seeded) -> None:
    """The app stops its widgets as it quits: a form caught mid-build must finish first
    (its selects, started and closed, could not find their own labels: a traceback on q)."""
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.next_form is not None)
        form = app.next_form
        assert not form.composed  # quit now, mid-build: run_test raises what the app raised
    assert form.composed  # the app let it finish before stopping it
