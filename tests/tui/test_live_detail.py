"""The live and detail screens as a new user met them at 80x24 (issue 12): an ended run
says how it ended, the chart says when its next point comes, ticks are whole numbers,
series are told apart, titles fit, and a failed run's error and the confusion grid are
in sight without a nested scroll."""

from __future__ import annotations

import dataclasses
import io
from datetime import timedelta

from rich.console import Console
from support.clock import T0
from support.tui_seed import settle
from textual.widgets import ProgressBar, Static

from engine.events import StepMetrics
from storage.records import AttemptRow
from tui.screens.detail import RunDetailScreen, error_text
from tui.screens.live import LiveRunScreen
from tui.widgets.confusion_grid import ConfusionGrid, short_name
from tui.widgets.metric_chart import MetricChart, fit_title, whole_ticks
from tui.widgets.progress_header import next_point


def text_of(screen, selector: str) -> str:  # noqa: ANN001
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(screen.query_one(selector, Static).content)
    return console.export_text()


async def open_screen(app, pilot, screen) -> None:  # noqa: ANN001
    """Straight to the screen: these tests are about it, not about the run table."""
    await settle(pilot)
    await app.push_screen(screen)
    await settle(pilot)


# -- pure parts -------------------------------------------------------------------------
def test_whole_ticks_are_whole_numbers_inside_the_range() -> None:
    for lo, hi, most in ((1, 160, 10), (1, 8, 5), (1, 3, 9), (1, 33, 4), (1, 1_000_000, 8)):
        ticks = whole_ticks(lo, hi, most)
        assert all(isinstance(t, int) for t in ticks), ticks
        assert 1 <= len(ticks) <= most and lo <= ticks[0] and ticks[-1] <= hi, ticks
    assert whole_ticks(1, 8, 10) == list(range(1, 9))
    assert whole_ticks(1, 160, 9) == [20, 40, 60, 80, 100, 120, 140, 160]
    assert whole_ticks(0.5, 2.5, 10) == [1, 2]


def test_fit_title_takes_the_first_that_fits_then_cuts() -> None:
    titles = ["val acc % (green) · val loss (yellow, right)", "val acc · loss", "val"]
    assert fit_title(titles, 80) == titles[0]
    assert fit_title(titles, 38) == "val acc · loss"
    assert fit_title(["a long title"], 8) == "a lon…"


def test_next_point_counts_log_every_from_the_epoch_start() -> None:
    assert next_point(67, 10, 20, 160) == 70
    assert next_point(70, 10, 20, 160) == 80
    assert next_point(75, 10, 32, 160) == 84  # epoch 3 starts at 64
    assert next_point(94, 10, 32, 160) == 96  # the epoch's end reads out too
    assert next_point(155, 10, None, 160) == 160


def test_confusion_names_are_short() -> None:
    names = ["airplane", "automobile", "bird", "horse", "truck"]
    assert [short_name(n) for n in names] == ["plane", "car", "bird", "horse", "truck"]


# -- live screen ------------------------------------------------------------------------
async def test_live_screen_of_a_failed_run_shows_its_error_not_a_pulse(app, seeded) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await open_screen(app, pilot, LiveRunScreen(seeded["broken"]))
        pulse = text_of(app.screen, "#live-pulse")
        assert "failed: CUDA out of memory. Tried to allocate 2.00 GiB" in pulse
        assert "traceback: d" in pulse and len(pulse.strip()) <= 78
        assert not app.screen.query_one(ProgressBar).display  # no "--%" pulsing for ever
        for chart in app.screen.query(MetricChart):
            title = chart.shown_title(chart.size.width)
            assert "waiting" not in title and "run failed" in title


async def test_live_screen_of_an_interrupted_run_says_so(app, store, seeded) -> None:
    store.mark_interrupted(seeded["live"], "the worker stopped")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_screen(app, pilot, LiveRunScreen(seeded["live"]))
        assert text_of(app.screen, "#live-pulse").startswith("interrupted")
        assert app.screen.timer is None  # an ended run is not polled any more


async def test_between_loss_points_the_header_says_when_the_next_comes(app, store,
                                                                       seeded) -> None:
    clock = {"now": T0 + timedelta(hours=3)}
    app.ctx.clock = lambda: clock["now"]
    async with app.run_test(size=(80, 24)) as pilot:
        screen = LiveRunScreen(seeded["live"])
        await open_screen(app, pilot, screen)
        pulse = text_of(screen, "#live-pulse")
        assert "loss every 10 steps" in pulse and "next point at step 70" in pulse
        clock["now"] += timedelta(seconds=12)  # no new point: the header still moves
        screen.poll()
        await settle(pilot)
        assert "last 12s ago" in text_of(screen, "#live-pulse")
        assert len(screen.steps) == 67  # and the chart invents nothing
        store.append_steps(seeded["live"], [
            StepMetrics(step=s, epoch=4, loss=0.4, lr=0.2, images_per_s=6000.0, time=0.0)
            for s in range(68, 71)])
        screen.poll()
        await settle(pilot)
        pulse = text_of(screen, "#live-pulse")
        assert "next point at step 80" in pulse and "last 0s ago" in pulse
        assert screen.query_one("#chart-loss", MetricChart).spec.series[0].xs[-1] == 70


async def test_live_series_have_distinct_markers_and_titles_fit_at_80(app, seeded) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await open_screen(app, pilot, LiveRunScreen(seeded["live"]))
        for chart in app.screen.query(MetricChart):
            looks = [(s.marker, s.color) for s in chart.spec.series]
            assert len(set(looks)) == len(looks), chart.id
            title = chart.shown_title(chart.size.width)
            assert title and len(title) <= chart.size.width - 2
            assert title in str(chart.render())  # plotext drew it (it drops one too long)
        val = app.screen.query_one("#chart-val", MetricChart)
        assert val.spec.series[0].marker != val.spec.series[1].marker
        rendered = str(val.render())
        assert "▞▞ val acc %" in rendered and "•• val loss" in rendered


async def test_live_step_and_epoch_axes_have_whole_ticks(app, seeded) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await open_screen(app, pilot, LiveRunScreen(seeded["live"]))
        for chart in app.screen.query(MetricChart):
            assert chart.spec.whole_x
            axis = str(chart.render()).splitlines()[-2]  # the x tick labels' line
            labels = axis.split()
            assert labels and all(label.isdigit() for label in labels), axis


# -- detail screen -----------------------------------------------------------------------
async def test_failed_run_detail_shows_the_error_first_at_80x24(app, seeded) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await open_screen(app, pilot, RunDetailScreen(seeded["broken"]))
        error = app.screen.query_one("#detail-error", Static)
        assert error.display and app.screen.query_one("#detail").children[0] is error
        assert error.region.y <= 2 and error.region.bottom <= 23  # in sight, not scrolled to
        assert "CUDA out of memory" in text_of(app.screen, "#detail-error")


async def test_attempts_are_listed_under_the_error_when_there_were_several(app, store,
                                                                          seeded) -> None:
    run = store.get_run(seeded["broken"])
    tries = [AttemptRow(1, "w1", "gpu-box", "cuda:0", T0, T0, "interrupted", "worker stopped"),
             AttemptRow(2, "w2", "gpu-box", "cuda:0", T0, T0, "failed", "CUDA out of memory")]
    assert "attempt" not in str(error_text(run))  # one try: nothing to list
    text = str(error_text(dataclasses.replace(run, attempts=tries)))
    lines = text.splitlines()
    assert lines[0].startswith("Error: CUDA out of memory")
    assert lines[1].startswith("attempt 1: interrupted") and "worker stopped" in lines[1]
    assert lines[2].startswith("attempt 2: failed")


async def test_confusion_grid_fits_80_columns_without_wrapping(app, seeded) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await open_screen(app, pilot, RunDetailScreen(seeded["baseline"]))
        assert app.screen.query_one("#detail-classes").has_class("stacked")
        grid = app.screen.query_one(ConfusionGrid)
        lines = str(grid.render()).splitlines()
        assert len(lines) == 12 and max(len(line) for line in lines) <= 78
        assert grid.region.width == max(len(line) for line in lines)
        assert grid.region.height == 12  # one line per class, no wrapped rows
        assert "plane" in lines[1] and "car" in lines[1] and lines[3].startswith("car ")
        assert grid.max_scroll_x == 0 and grid.max_scroll_y == 0  # no nested scroll


async def test_per_class_and_confusion_sit_side_by_side_when_wide(app, seeded) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await open_screen(app, pilot, RunDetailScreen(seeded["baseline"]))
        assert not app.screen.query_one("#detail-classes").has_class("stacked")
        grid = app.screen.query_one(ConfusionGrid)
        assert grid.region.right <= 120 and grid.region.height == 12
