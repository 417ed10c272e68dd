"""The live screen's charts (issue 12, "Charts people ask for"): smoothing with an off
switch, log-Y that survives non-positive losses, step/epoch/wall-time axes, zoom on the
last N points, and pinned runs drawn behind, on a real seeded store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from support.tui_seed import settle, until

from engine.events import StepMetrics
from engine.settings import load_file
from tui.screens.help import HelpScreen
from tui.screens.live import LiveRunScreen
from tui.widgets.chart_options import FAINT, run_colour
from tui.widgets.chart_series import NO_WALL_TIMES
from tui.widgets.metric_chart import MetricChart

CHART_KEYS = ("s", "l", "t", "z", "p")


async def open_live(app, pilot, run_id: int) -> LiveRunScreen:  # noqa: ANN001
    await settle(pilot)
    await app.push_screen(LiveRunScreen(run_id))
    await settle(pilot)
    assert isinstance(app.screen, LiveRunScreen)
    return app.screen


def chart(screen: LiveRunScreen, name: str) -> MetricChart:
    return screen.query_one(f"#chart-{name}", MetricChart)


def drawn(screen: LiveRunScreen, name: str) -> str:
    return str(chart(screen, name).render())


def set_wall_times(db: Path, run_id: int, seconds_per_step: float | None) -> None:
    """Wall times as the store keeps them: one per step, or none (rows from before 0004)."""
    with sqlite3.connect(db) as conn:
        if seconds_per_step is None:
            conn.execute("UPDATE step_metrics SET wall_time = NULL WHERE run_id = ?", (run_id,))
        else:
            conn.execute("UPDATE step_metrics SET wall_time = 1.7e9 + step * ? WHERE run_id = ?",
                         (seconds_per_step, run_id))


async def test_smoothing_is_on_with_raw_faint_behind_and_s_turns_it_off(app, seeded) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_live(app, pilot, seeded["live"])
        loss = chart(screen, "loss")
        assert loss.spec.title == "train loss · EMA 0.9"
        raw, smoothed = loss.spec.series
        assert raw.faint and raw.color == FAINT and smoothed.color == run_colour(seeded["live"])
        assert raw.ys != smoothed.ys and len(raw.ys) == len(smoothed.ys) == 67
        assert "train loss · EMA 0.9" in drawn(screen, "loss")
        await pilot.press("s")
        assert loss.spec.title == "train loss · raw"
        assert [s.faint for s in loss.spec.series] == [False]
        assert "train loss · raw" in drawn(screen, "loss")
        await pilot.press("s")
        assert loss.spec.title == "train loss · EMA 0.9"


async def test_log_y_skips_non_positive_losses_and_says_so(app, store, seeded) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_live(app, pilot, seeded["live"])
        store.append_steps(seeded["live"], [
            StepMetrics(step=68, epoch=4, loss=0.0, lr=0.2, images_per_s=1.0, time=0.0),
            StepMetrics(step=69, epoch=4, loss=-1.0, lr=0.2, images_per_s=1.0, time=0.0)])
        screen.poll()
        await until(pilot, lambda: len(screen.steps) == 69)
        await pilot.press("l")
        loss = chart(screen, "loss")
        assert loss.spec.title == "log10 train loss · EMA 0.9 · 2 ≤0 skipped"
        assert loss.spec.yticks is not None and all(
            len(s.xs) == len(s.ys) for s in loss.spec.series)
        assert "val loss" in chart(screen, "val").spec.series[-1].label
        for size in ((120, 40), (60, 20), (80, 24)):
            await pilot.resize_terminal(*size)
            await pilot.pause()
            for name in ("loss", "val", "lr"):
                drawn(screen, name)  # a redraw at each size must not raise
        assert "skipped" in drawn(screen, "loss") or "log" in drawn(screen, "loss")
        await pilot.press("l")
        assert loss.spec.title == "train loss · EMA 0.9"


async def test_x_axis_cycles_step_epoch_and_wall_time(app, store, seeded, tmp_path) -> None:
    set_wall_times(tmp_path / "runs.db", seeded["live"], 20.0)  # 67 steps: 22 minutes
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_live(app, pilot, seeded["live"])
        loss = chart(screen, "loss")
        assert loss.spec.xlabel == "step" and loss.spec.whole_x
        assert loss.spec.series[-1].xs[-1] == 67
        await pilot.press("t")
        assert loss.spec.xlabel == "epoch" and loss.spec.series[-1].xs[-1] == 67 / 20
        ticks = str(loss.render()).splitlines()[-2].split()
        assert ticks and all(t.isdigit() for t in ticks)  # whole epochs
        await pilot.press("t")
        assert loss.spec.xlabel == "time" and loss.spec.time_x
        assert loss.spec.series[-1].xs[-1] == 66 * 20.0  # seconds since the first step
        ticks = str(loss.render()).splitlines()[-2].split()
        assert ticks and all(t.endswith("min") for t in ticks), ticks
        assert chart(screen, "val").spec.series[-1].xs == [12.0, 24.0, 36.0]  # epoch seconds
        assert chart(screen, "lr").spec.series[0].label == "seen"  # no plan on a time axis
        await pilot.press("t")
        assert loss.spec.xlabel == "step"


async def test_a_run_without_wall_times_says_so_on_a_time_axis(app, seeded, tmp_path) -> None:
    set_wall_times(tmp_path / "runs.db", seeded["live"], None)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_live(app, pilot, seeded["live"])
        await pilot.press("t", "t")
        for name in ("loss", "lr"):
            assert chart(screen, name).spec.series == []
            assert NO_WALL_TIMES in chart(screen, name).shown_title(200)
        assert "no wall times" in drawn(screen, "loss")


async def test_zoom_keeps_the_last_n_points_and_says_so(app, store, seeded) -> None:
    store.append_steps(seeded["live"], [  # the whole run: 160 steps
        StepMetrics(step=s, epoch=8, loss=0.4, lr=0.2, images_per_s=1.0, time=0.0)
        for s in range(68, 161)])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_live(app, pilot, seeded["live"])
        loss = chart(screen, "loss")
        assert len(loss.spec.series[-1].xs) == 160 and loss.spec.xlim == (1, 160)
        await pilot.press("z")
        assert loss.spec.title.endswith("last 200") and len(loss.spec.series[-1].xs) == 160
        await pilot.press("z")
        assert loss.spec.title.endswith("last 50") and loss.spec.xlim == (111, 160)
        assert loss.spec.series[-1].xs[0] == 111 and len(loss.spec.series[-1].xs) == 50
        assert chart(screen, "lr").spec.xlim == (111, 160)  # the step charts zoom together
        assert "last 50" in drawn(screen, "loss")
        await pilot.press("z")
        assert "last" not in loss.spec.title and len(loss.spec.series[-1].xs) == 160


async def test_pinned_run_is_drawn_behind_in_its_colour_and_survives_a_restart(
        app, store, seeded, worker_starts) -> None:  # noqa: ANN001
    baseline, live = seeded["baseline"], seeded["live"]
    async with app.run_test(size=(120, 40)) as pilot:
        await open_live(app, pilot, baseline)
        await pilot.press("p")
        await until(pilot, lambda: app.screen.pins == [baseline])
        assert load_file().pinned_runs == {store.store_id: [baseline]}
    from tui.app import make_app

    again = make_app(store=store, poll_interval=None, clock=app.ctx.clock,
                     start_worker=worker_starts, worker_alive=lambda: False)
    async with again.run_test(size=(120, 40)) as pilot:
        screen = await open_live(again, pilot, live)
        await until(pilot, lambda: len(chart(screen, "loss").spec.series) == 3)
        pin, raw, ours = chart(screen, "loss").spec.series
        assert pin.label == f"#{baseline}" and pin.color == run_colour(baseline)
        assert ours.color == run_colour(live) != pin.color
        assert f"#{baseline}" in drawn(screen, "loss")
        val = chart(screen, "val").spec.series
        assert val[0].label == f"#{baseline}" and len(val[0].xs) == 4  # its accuracy too
        await pilot.press("P")
        await until(pilot, lambda: len(chart(screen, "loss").spec.series) == 2)
        assert load_file().pinned_runs == {}


async def test_charts_do_not_rebuild_without_new_data_or_options(app, seeded) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_live(app, pilot, seeded["live"])
        charts = list(screen.query(MetricChart))
        built = [c._version for c in charts]
        screen.poll()
        await settle(pilot)
        await app.push_screen(HelpScreen())
        await settle(pilot)
        app.pop_screen()
        await settle(pilot)
        assert [c._version for c in charts] == built
        await pilot.press("s")
        assert [c._version for c in charts] != built


async def test_chart_keys_are_bound_described_and_in_the_footer_at_80x24(app, seeded) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_live(app, pilot, seeded["live"])
        bindings = {b.key: b for b in screen.BINDINGS}
        assert all(bindings[k].description for k in (*CHART_KEYS, "P"))
        footer = " ".join(str(w.render()) for w in screen.query("FooterKey"))
        for key in CHART_KEYS:
            assert f"{key} {bindings[key].description}" in footer, footer
