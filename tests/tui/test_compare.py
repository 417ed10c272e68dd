"""The compare screen's table and loss axis: counts that match the rows, readable labels,
cut cells, and a log axis for an exploded run (issue 12)."""

from __future__ import annotations

import pytest
from support.clock import FixedTime
from support.tui_seed import LONG_DATA_DIR, seed_exploded, settle
from textual.widgets import DataTable

from engine.config import config_from_preset
from storage.runs import RunStore
from tui.app import CifarTui
from tui.screens.compare import MAX_CELL, CompareScreen, shorten
from tui.widgets.chart_options import log_ticks
from tui.widgets.metric_chart import MetricChart


@pytest.fixture
def exploded(store: RunStore, store_clock: FixedTime) -> dict[str, int]:
    return seed_exploded(store, store_clock)


async def open_compare(app: CifarTui, pilot, run_ids: list[int]) -> CompareScreen:  # noqa: ANN001
    await settle(pilot)
    app.push_screen(CompareScreen(run_ids))
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, CompareScreen)
    return screen


def rows_of(screen: CompareScreen) -> dict[str, list[str]]:
    table = screen.query_one("#compare-table", DataTable)
    return {str(table.get_row_at(i)[0]): [str(c) for c in table.get_row_at(i)[1:]]
            for i in range(table.row_count)}


def title_of(screen: CompareScreen) -> str:
    return str(screen.query_one("#compare-title").render())


async def test_settings_count_equals_the_setting_rows_listed(app, exploded) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(app, pilot, list(exploded.values()))
        table = screen.query_one("#compare-table", DataTable)
        listed = [r.key.value for r in table.ordered_rows if r.key.value.startswith("config:")]
        # The config's `name` differs too, but it is the column header, not a row.
        assert sorted(listed) == ["config:data_dir", "config:max_lr"]
        assert f"{len(listed)} settings differ" in title_of(screen)


async def test_one_differing_setting_is_counted_in_the_singular(app, store: RunStore) -> None:
    ids = [store.create_run(config_from_preset("seed", dataset="synthetic", max_lr=lr))
           for lr in (0.01, 0.02)]
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(app, pilot, ids)
        title = title_of(screen)
    assert "Comparing 2 runs · 1 setting differs (highlighted)" in title
    assert "1 settings" not in title


async def test_the_two_device_rows_are_labelled_apart(app, seeded) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(app, pilot, [seeded["wide"], seeded["baseline"]])
        await pilot.press("a")
        rows = rows_of(screen)
        assert rows["device (ran on)"] == ["cuda:0", "cuda:0"]
        assert rows["device (asked)"] == ["auto", "auto"]
        labels = [str(r) for r in (screen.query_one(DataTable).get_row_at(i)[0]
                                   for i in range(screen.query_one(DataTable).row_count))]
        assert len(labels) == len(set(labels))  # no label twice


async def test_labels_are_readable_not_field_names(app, seeded) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(app, pilot, [seeded["wide"], seeded["baseline"]])
        await pilot.press("a")
        rows = rows_of(screen)
        assert rows["best val acc"] and rows["duration"] and rows["images/s"]
        assert rows["parameters"] == ["6,573,130", "6,573,130"]
        assert rows["max lr"] == ["0.02", "0.01"]
        assert not [label for label in rows if "_" in label]


async def test_a_long_data_dir_is_cut_in_its_cell_and_whole_in_the_tooltip(app, exploded) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(app, pilot, list(exploded.values()))
        await pilot.press("a")
        table = screen.query_one("#compare-table", DataTable)
        cell = str(table.get_cell("config:data_dir", str(exploded["steady"])))
        assert cell == "…/cifar-10-subset"
        assert all(col.get_render_width(table) <= MAX_CELL + 2 for col in table.columns.values())
        table.move_cursor(row=table.get_row_index("config:data_dir"))
        await pilot.pause()
        assert LONG_DATA_DIR in str(table.tooltip)
        table.move_cursor(row=0)
        await pilot.pause()
        assert table.tooltip is None


def test_shorten_keeps_the_end_of_a_path_and_the_ends_of_other_text() -> None:
    assert shorten("/data/cifar") == "/data/cifar"
    assert shorten(LONG_DATA_DIR, 20) == "…/cifar-10-subset"
    assert shorten("x" * 40, 9) == "xxxx…xxxx"


def test_log_ticks_are_decades_inside_the_range_labelled_with_real_values() -> None:
    assert log_ticks(-0.35, 5.92) == ([0.0, 2.0, 4.0], ["1", "100", "10k"])
    assert log_ticks(-2.2, 0.1) == ([-2.0, -1.0, 0.0], ["0.01", "0.1", "1"])
    assert log_ticks(0.1, 0.5)[1] == ["1.26", "3.16"]  # less than a decade: the ends


async def test_loss_axis_goes_log_by_itself_for_an_exploded_run(app, exploded) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(app, pilot, list(exploded.values()))
        chart = screen.query_one("#compare-loss", MetricChart)
        assert screen.loss_log and chart.spec.title == "log10 val loss"
        assert max(max(s.ys) for s in chart.spec.series) == pytest.approx(5.919, abs=1e-3)
        assert chart.spec.yticks == ([0.0, 2.0, 4.0], ["1", "100", "10k"])
        await pilot.press("l")  # the key still turns it off
        assert not screen.loss_log and chart.spec.title == "val loss"
        for size in ((80, 24), (60, 20), (120, 40)):
            await pilot.press("l")
            await pilot.resize_terminal(*size)
            await pilot.pause()
            chart.render()  # a redraw at each size, log and linear in turn, must not raise


async def test_l_toggles_the_log_axis_on_ordinary_runs(app, seeded) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_compare(app, pilot, [seeded["wide"], seeded["baseline"]])
        chart = screen.query_one("#compare-loss", MetricChart)
        assert not screen.loss_log  # 0.55 to 1.6: no need for log
        await pilot.press("l")
        assert screen.loss_log and chart.spec.title == "log10 val loss"
        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        chart.render()
        await pilot.press("l")
        assert not screen.loss_log and chart.spec.title == "val loss"
