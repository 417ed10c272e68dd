"""Seed groups in the TUI: `a` switches the history to one row per group and back, and
compare in group mode shows mean ± std per group with its curves as mean and min–max band."""

from __future__ import annotations

import statistics

import pytest
from support.clock import FixedTime
from support.groups import GridRun, seed_grid
from support.store import epoch, finished
from support.tui_seed import settle, told, until
from textual.widgets import DataTable, Select

from storage.runs import RunStore
from tui.screens.group_compare import GroupCompareScreen
from tui.widgets.group_table import GroupTable
from tui.widgets.run_table import RunTable


@pytest.fixture
def grid(store: RunStore, store_clock: FixedTime) -> list[GridRun]:
    return seed_grid(store, store_clock)


def mates(grid: list[GridRun], lr: float, bs: int) -> list[GridRun]:
    return [r for r in grid if (r.max_lr, r.batch_size) == (lr, bs)]


def hand(values: list[float]) -> str:
    """mean±std in percent points with one decimal, as the group rows show them."""
    return f"{statistics.mean(values) * 100:.1f}±{statistics.stdev(values) * 100:.1f}"


def status_of(app) -> str:  # noqa: ANN001
    return str(app.screen.query_one("#home-status").render())


async def grouped(pilot) -> GroupTable:  # noqa: ANN001
    await settle(pilot)
    await pilot.press("a")
    table = pilot.app.screen.query_one(GroupTable)
    await until(pilot, lambda: table.row_count == 4)
    return table


async def test_a_shows_one_row_per_seed_group_with_mean_and_std(app, grid) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert not app.screen.query(GroupTable)  # nothing grouped before it is asked for
        table = await grouped(pilot)
        assert table.has_focus and not app.screen.query_one(RunTable).display
        best = mates(grid, 0.02, 400)
        label = f"g:{best[0].run_id}"
        assert str(table.get_cell(label, "best")) == hand([max(r.val_accs) for r in best])
        assert str(table.get_cell(label, "test")) == hand([r.test_acc for r in best])
        assert str(table.get_cell(label, "n")).strip() == "2"
        # The queued third seed counts in n; only two of the three have results.
        assert str(table.get_cell(f"g:{grid[0].run_id}", "n")).strip() == "2/3"
        assert "4 groups of 9 runs" in status_of(app)
        assert "max_lr=0.02" in str(table.get_cell(label, "name"))


async def test_the_filters_apply_to_the_groups(app, grid) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        table = await grouped(pilot)
        label = f"g:{grid[0].run_id}"
        app.screen.query_one("#status", Select).value = "completed"
        await until(pilot, lambda: str(table.get_cell(label, "n")).strip() == "2")
        assert "4 groups of 8 runs" in status_of(app)


async def test_a_again_goes_back_to_the_runs(app, grid) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        table = await grouped(pilot)
        await pilot.press("a")
        await settle(pilot)
        runs = app.screen.query_one(RunTable)
        assert runs.display and not table.display and runs.has_focus
        assert runs.row_count == 9 and "9 runs" in status_of(app)


async def test_groups_key_is_listed_in_help(app, grid) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await until(pilot, lambda: bool(app.screen.query("#help-0")))
        shown = " ".join(str(w.render()) for w in app.screen.query("Static"))
        assert "Seed groups on/off" in shown


async def test_a_run_ending_updates_its_group_row(app, store, grid) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        table = await grouped(pilot)
        label = f"g:{grid[0].run_id}"
        assert str(table.get_cell(label, "n")).strip() == "2/3"
        app.screen.poll()  # sees the queued third seed as active
        await settle(pilot)
        claimed = store.claim_next_run("w1")
        store.record_epoch(claimed.run_id, epoch(1, 0.7))
        store.finish_run(claimed.run_id, finished(test_acc=0.7))
        app.screen.poll()
        await until(pilot, lambda: str(table.get_cell(label, "n")).strip() == "3")
        tests = [grid[0].test_acc, grid[1].test_acc, 0.7]
        assert str(table.get_cell(label, "test")) == hand(tests)


async def test_run_actions_ask_to_leave_group_mode(app, grid) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await grouped(pilot)
        await pilot.press("x")
        await until(pilot, lambda: any("press a for the runs" in m for m in told(app)))


async def test_compare_marked_groups_shows_mean_std_and_band(app, grid) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        table = await grouped(pilot)
        a, b = mates(grid, 0.01, 400), mates(grid, 0.02, 400)
        for group in (a, b):
            table.move_cursor(row=table.get_row_index(f"g:{group[0].run_id}"))
            await pilot.press("space")
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, GroupCompareScreen)
                    and bool(app.screen.columns))
        screen = app.screen
        grid_table = screen.query_one("#compare-table", DataTable)
        row = [str(c) for c in grid_table.get_row("metric:test acc")[1:]]
        for cell, group in zip(row, (a, b), strict=True):
            values = [r.test_acc * 100 for r in group]
            assert cell == f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"
        assert screen.run_ids == [r.run_id for r in (*a, *b)]
        series = screen.query_one("#compare-acc").spec.series
        assert [(s.label, s.legend) for s in series] == [
            (f"g:{a[0].run_id}", False), (f"g:{a[0].run_id}", False), (f"g:{a[0].run_id}", True),
            (f"g:{b[0].run_id}", False), (f"g:{b[0].run_id}", False), (f"g:{b[0].run_id}", True)]
        low, high, mean = series[3:]
        for i in range(3):
            at = [r.val_accs[i] * 100 for r in b]
            assert low.ys[i] == pytest.approx(min(at)) and high.ys[i] == pytest.approx(max(at))
            assert mean.ys[i] == pytest.approx(statistics.mean(at))


async def test_enter_on_a_group_compares_its_runs(app, grid) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        table = await grouped(pilot)
        table.move_cursor(row=table.get_row_index(f"g:{grid[0].run_id}"))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, GroupCompareScreen)
                    and bool(app.screen.columns))
        (column,) = app.screen.columns
        assert column.run_ids == [grid[0].run_id, grid[1].run_id, grid[-1].run_id + 1]
        cells = app.screen.query_one("#compare-table", DataTable).get_row("metric:runs")
        assert str(cells[1]) == "3 (2 with results)"


async def test_compare_needs_two_marked_groups(app, grid) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        table = await grouped(pilot)
        first = table.current_label
        await pilot.press("space")
        await until(pilot, lambda: f"1 marked: {first}" in status_of(app))
        await pilot.press("c")
        await until(pilot, lambda: any("two or more groups" in m for m in told(app)))
        assert not isinstance(app.screen, GroupCompareScreen)


async def test_o_on_group_compare_writes_a_report_of_the_groups(app, store, grid) -> None:
    a, b = mates(grid, 0.01, 400), mates(grid, 0.02, 400)
    refs = [f"g:{a[0].run_id}", f"g:{b[0].run_id}"]
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(GroupCompareScreen(refs))
        await until(pilot, lambda: bool(app.screen.columns))
        await pilot.press("o")
        await until(pilot, lambda: any(m.startswith("Report written to ") for m in told(app)),
                    seconds=60)
    (message,) = [m for m in told(app) if m.startswith("Report written to ")]
    path = store.artifact_root / "reports" / f"compare-g{a[0].run_id}-g{b[0].run_id}.html"
    assert message == f"Report written to {path}"
    html = path.read_text()
    for ref, group in zip(refs, (a, b), strict=True):
        assert f"{ref} (resnet9, n={len(group)})" in html  # one entry per group, not per run
        assert " ".join(f"#{r.run_id}" for r in group) in html  # its runs, in its row
    assert f"from {len(a) + len(b)} run(s)" in html
