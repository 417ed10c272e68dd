"""The compare screen's charts (issue 12): each run in its own colour everywhere,
smoothing, log-Y with non-positive values skipped, the x axis and pins."""

from __future__ import annotations

import sqlite3

import pytest
from rich.text import Text
from support.clock import FixedTime
from support.tui_seed import seed_exploded, settle, until
from textual.widgets import DataTable

from engine.events import EpochMetrics
from engine.settings import load_file
from storage.runs import RunStore
from tui.screens.compare import CompareScreen
from tui.screens.live import LiveRunScreen
from tui.widgets.chart_options import run_colour, run_rich_colour
from tui.widgets.chart_series import NO_EPOCH_TIMES
from tui.widgets.metric_chart import MetricChart


@pytest.fixture
def exploded(store: RunStore, store_clock: FixedTime) -> dict[str, int]:
    return seed_exploded(store, store_clock)


async def open_compare(app, pilot, run_ids: list[int]) -> CompareScreen:  # noqa: ANN001
    await settle(pilot)
    await app.push_screen(CompareScreen(run_ids))
    await settle(pilot)
    assert isinstance(app.screen, CompareScreen)
    return app.screen


def charts(screen: CompareScreen) -> tuple[MetricChart, MetricChart]:
    return (screen.query_one("#compare-acc", MetricChart),
            screen.query_one("#compare-loss", MetricChart))


async def test_each_run_has_its_own_colour_in_the_curves_and_the_table(app, seeded) -> None:
    ids = [seeded["wide"], seeded["baseline"]]
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(app, pilot, ids)
        acc, loss = charts(screen)
        for chart in (acc, loss):
            assert [(s.label, s.color) for s in chart.spec.series] == [
                (f"#{i}", run_colour(i)) for i in ids]
        table = screen.query_one("#compare-table", DataTable)
        header = table.columns[str(ids[0])].label  # type: ignore[index]
        assert isinstance(header, Text) and run_rich_colour(ids[0]) in str(header.style)
        # The same run keeps its colour when compared with others, in another order.
        app.pop_screen()
        screen = await open_compare(app, pilot, [seeded["baseline"], seeded["live"]])
        first = charts(screen)[0].spec.series[0]
        assert first.label == f"#{seeded['baseline']}" and first.color == run_colour(ids[1])


async def test_s_smooths_the_epoch_curves_and_says_so(app, seeded) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_compare(app, pilot, [seeded["wide"], seeded["baseline"]])
        acc, loss = charts(screen)
        raw = [list(s.ys) for s in loss.spec.series]
        assert loss.spec.title == "val loss"
        await pilot.press("s")
        assert loss.spec.title == "val loss · EMA 0.5" and acc.spec.title.endswith("EMA 0.5")
        assert [list(s.ys) for s in loss.spec.series] != raw
        assert "EMA 0.5" in str(loss.render())
        await pilot.press("s")
        assert [list(s.ys) for s in loss.spec.series] == raw


async def test_log_y_skips_a_zero_loss_and_counts_it(app, store, exploded) -> None:
    store.record_epoch(exploded["steady"], EpochMetrics(  # a fifth epoch with a zero loss
        epoch=5, train_loss=0.0, train_acc=0.9, val_loss=0.0, val_acc=0.9, lr=0.01,
        seconds=12.0, images_per_s=1.0, step=100, time=0.0))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_compare(app, pilot, list(exploded.values()))
        _, loss = charts(screen)
        assert loss.spec.title == "log10 val loss · 1 ≤0 skipped"
        assert "skipped" in str(loss.render())
        for size in ((120, 40), (60, 20)):
            await pilot.resize_terminal(*size)
            await pilot.pause()
            loss.render()


async def test_x_axis_cycles_epoch_time_step(app, seeded) -> None:
    ids = [seeded["wide"], seeded["baseline"]]
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(app, pilot, ids)
        acc, _ = charts(screen)
        assert acc.spec.xlabel == "epoch" and acc.spec.series[0].xs == [1, 2, 3, 4]
        await pilot.press("t")
        assert acc.spec.xlabel == "time" and acc.spec.series[0].xs == [12.0, 24.0, 36.0, 48.0]
        assert "48s" in str(acc.render()) or "40s" in str(acc.render())
        await pilot.press("t")
        assert acc.spec.xlabel == "step" and acc.spec.series[0].xs == [20, 40, 60, 80]


async def test_runs_without_epoch_times_say_so_on_a_time_axis(app, seeded, tmp_path) -> None:
    with sqlite3.connect(tmp_path / "runs.db") as conn:
        conn.execute("UPDATE epoch_metrics SET seconds = NULL")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_compare(app, pilot, [seeded["wide"], seeded["baseline"]])
        await pilot.press("t")
        for chart in charts(screen):
            assert chart.spec.series == [] and NO_EPOCH_TIMES in chart.shown_title(200)


async def test_zoom_on_the_last_epochs(app, seeded) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(app, pilot, [seeded["wide"], seeded["baseline"]])
        acc, _ = charts(screen)
        await pilot.press("z")
        assert acc.spec.title == "val accuracy % · last 200"


async def test_p_pins_the_compared_runs_for_the_live_screen(app, store, seeded) -> None:
    ids = [seeded["wide"], seeded["baseline"]]
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_compare(app, pilot, ids)
        await pilot.press("p")
        await until(pilot, lambda: screen.pins == sorted(ids))
        assert load_file().pinned_runs == {store.store_id: sorted(ids)}
        title = str(screen.query_one("#compare-title").render())
        assert f"pinned: #{ids[0]} #{ids[1]}" in title
        live = LiveRunScreen(seeded["live"])
        await app.push_screen(live)
        await settle(pilot)
        loss = live.query_one("#chart-loss", MetricChart)
        labels = [s.label for s in loss.spec.series]
        assert labels[:2] == [f"#{i}" for i in sorted(ids)]
        app.pop_screen()
        await settle(pilot)
        await pilot.press("p")  # all pinned: p unpins them
        await until(pilot, lambda: screen.pins == [])
        assert load_file().pinned_runs == {}
