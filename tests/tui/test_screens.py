"""Detail, compare, cancel, live and help: each screen's main flow against a real store."""

from __future__ import annotations

import io

from rich.console import Console
from support.tui_seed import settle, table_ids
from textual.binding import Binding
from textual.widgets import DataTable, Input, Static
from textual.widgets._toast import Toast

from engine.events import EpochMetrics, StepMetrics
from tui.app import CifarTui
from tui.screens.compare import CompareScreen
from tui.screens.confirm import ConfirmDialog
from tui.screens.detail import RunDetailScreen
from tui.screens.help import HelpScreen
from tui.screens.home import HomeScreen
from tui.screens.live import LiveRunScreen
from tui.widgets.confusion_grid import ConfusionGrid
from tui.widgets.run_table import RunTable


async def open_row(app, pilot, run_id: int, key: str = "enter") -> None:  # noqa: ANN001
    app.screen.query_one(RunTable).move_cursor(row=table_ids(app).index(run_id))
    await pilot.press(key)
    await settle(pilot)


def text_of(screen, selector: str) -> str:  # noqa: ANN001
    """A Static's content as plain text, whatever renderable it holds."""
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(screen.query_one(selector, Static).content)
    return console.export_text()


async def test_enter_on_a_finished_run_opens_its_detail(app, seeded) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await open_row(app, pilot, seeded["baseline"])
        screen = app.screen
        assert isinstance(screen, RunDetailScreen)
        assert "88.40%" in text_of(screen, "#detail-metrics")
        assert "/ckpt/run-best.pt" in text_of(screen, "#detail-metrics")
        assert "max_lr" in text_of(screen, "#detail-config")
        assert "airplane" in text_of(screen, "#detail-per-class")
        grid = screen.query_one(ConfusionGrid)
        assert grid.matrix[3][5] == 12 and "car" in str(grid.render())  # short names
        assert screen.query_one("#tags", Input).value == "baseline"


async def test_detail_of_a_failed_run_shows_error_and_traceback(app, seeded) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await open_row(app, pilot, seeded["broken"], key="d")
        text = text_of(app.screen, "#detail-error")
        assert "CUDA out of memory" in text and "Traceback (most recent call last)" in text


async def test_notes_and_tags_are_saved_to_the_store(app, store, seeded) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await open_row(app, pilot, seeded["baseline"], key="d")
        await pilot.press("e", *"good one", "enter")
        await settle(pilot)
        await pilot.press("t")
        app.screen.query_one("#tags", Input).value = "keep, paper"
        await pilot.press("enter")
        await settle(pilot)
        run = store.get_run(seeded["baseline"])
        assert run.notes == "good one"
        assert run.tags == ("keep", "paper")


def toasts(app) -> list[str]:  # noqa: ANN001
    """The text of the notifications on screen now."""
    return [toast.render().plain for toast in app.screen.query(Toast)]


async def test_marking_two_runs_and_comparing_them(app, seeded) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(RunTable)
        table.move_cursor(row=table_ids(app).index(seeded["wide"]))
        await pilot.press("space")  # marks and moves down, onto the baseline
        await pilot.press("space")
        marked = [seeded["wide"], seeded["baseline"]]
        assert table.marked == marked
        await pilot.press("c")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        assert screen.run_ids == marked
        assert screen.comparison is not None and screen.comparison.run_ids == marked
        assert text_of(screen, "#compare-title").startswith(f"Comparing {len(marked)} runs ")
        compare = screen.query_one("#compare-table", DataTable)
        rows = {str(compare.get_row_at(i)[0]): [str(c) for c in compare.get_row_at(i)[1:]]
                for i in range(compare.row_count)}
        assert rows["max lr"] == ["0.02", "0.01"]
        assert rows["model"] == ["resnet18", "resnet9"]
        assert rows["test acc"] == ["86.10%", "88.40%"]
        assert "batch size" not in rows  # equal settings are hidden until `a`
        await pilot.press("a")
        assert compare.row_count > len(rows)
        assert [len(s.xs) for s in screen.query_one("#compare-acc").spec.series] == [4, 4]


async def test_compare_with_one_marked_run_says_to_mark_two(app, seeded) -> None:
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("space")
        assert len(app.screen.query_one(RunTable).marked) == 1
        assert not any("Mark two" in t for t in toasts(app))
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)
        assert any("Mark two or more runs" in t for t in toasts(app))


async def test_cancelling_a_queued_run_after_confirming(app, store, seeded) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await open_row(app, pilot, seeded["queued"], key="x")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await settle(pilot)
        assert store.get_run(seeded["queued"]).status == "cancelled"
        cell = app.screen.query_one(RunTable).get_cell(str(seeded["queued"]), "status")
        assert "cancelled" in str(cell)


async def test_declining_the_confirmation_cancels_nothing(app, store, seeded) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await open_row(app, pilot, seeded["queued"], key="x")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)
        assert store.get_run(seeded["queued"]).status == "queued"


async def test_cancelling_a_running_run_from_the_live_screen_flags_it(app, store, seeded) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await open_row(app, pilot, seeded["live"])
        assert isinstance(app.screen, LiveRunScreen)
        await pilot.press("x", "y")
        await settle(pilot)
        run = store.get_run(seeded["live"])
        assert run.status == "running" and run.cancel_requested


async def test_live_screen_follows_steps_written_by_another_process(app, store, seeded) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await open_row(app, pilot, seeded["live"], key="l")
        screen = app.screen
        assert screen.last_step == 67 and len(screen.steps) == 67
        assert "step 67/160" in text_of(screen, "#live-facts")
        store.append_steps(seeded["live"], [
            StepMetrics(step=s, epoch=4, loss=0.4, lr=0.2, images_per_s=6000.0, time=0.0)
            for s in range(68, 81)])
        store.record_epoch(seeded["live"], EpochMetrics(
            epoch=4, train_loss=0.4, train_acc=0.8, val_loss=0.5, val_acc=0.81, lr=0.2,
            seconds=10, images_per_s=6000.0))
        screen.poll()
        await settle(pilot)
        assert screen.last_step == 80 and len(screen.steps) == 80
        facts = text_of(screen, "#live-facts")
        assert "step 80/160" in facts and "6,000 img/s" in facts and "cuda:0" in facts
        assert screen.query_one("#chart-val").spec.series[0].ys[-1] == 81.0
        assert screen.query_one("#chart-lr").spec.vline == 80


async def test_question_mark_opens_help_listing_keys(app) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = " ".join(text_of(app.screen, f"#{s.id}") for s in app.screen.query(Static) if s.id)
        for binding in HomeScreen.BINDINGS:  # every key of the run list, with what it does
            assert isinstance(binding, Binding) and binding.description in text
        await pilot.press("escape")
        assert isinstance(app.screen, HomeScreen)


async def test_command_palette_offers_every_action_in_the_home_footer(app) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        commands = list(app.get_system_commands(app.screen))
        offered = {getattr(c.callback, "__name__", None) for c in commands}
        footer = [b for b in (*HomeScreen.BINDINGS, *CifarTui.BINDINGS)
                  if isinstance(b, Binding) and b.show]
        assert footer, "the home screen shows some keys"
        missing = [b.action for b in footer
                   if f"action_{b.action.removeprefix('app.')}" not in offered]
        assert missing == []
        assert len({c.title for c in commands}) == len(commands)  # no two look alike


async def test_compare_from_the_command_palette_opens_the_marked_runs(app, seeded) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(RunTable)
        for run_id in (seeded["baseline"], seeded["wide"]):
            table.move_cursor(row=table_ids(app).index(run_id))
            await pilot.press("space")
        (compare,) = [c for c in app.get_system_commands(app.screen)
                      if getattr(c.callback, "__name__", None) == "action_compare"]
        compare.callback()
        await settle(pilot)
        assert isinstance(app.screen, CompareScreen)
        assert sorted(app.screen.run_ids) == sorted((seeded["baseline"], seeded["wide"]))
