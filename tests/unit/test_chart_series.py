"""From stored rows to series: the x axes, raw behind smoothed, zoom without reseeding
the average, log with skipped points counted, and pins kept per store."""

from __future__ import annotations

import json

from engine import settings as st
from engine.paths import app_home
from storage.records import EpochRow, StepRow
from tui.widgets.chart_options import FAINT, ChartView, smooth
from tui.widgets.chart_pins import load_pins, save_pins, toggled
from tui.widgets.chart_series import Curve, epoch_xs, step_xs, view_series, view_title


def steps(n: int, wall: bool = True) -> list[StepRow]:
    return [StepRow(step=i, epoch=1 + (i - 1) // 10, loss=1.0 / i, lr=0.1,
                    wall_time=1_700_000_000.0 + 3 * i if wall else None) for i in range(1, n + 1)]


def epoch(n: int, seconds: float | None) -> EpochRow:
    return EpochRow(n, 1.0, 0.5, 1.0, 0.5, 0.1, seconds, 100.0)


def test_step_axes_count_steps_epochs_or_seconds_since_the_first_step() -> None:
    rows = steps(3)
    assert step_xs(rows, "step", 10) == [1.0, 2.0, 3.0]
    assert step_xs(rows, "epoch", 10) == [0.1, 0.2, 0.3]
    assert step_xs(rows, "time", 10) == [0.0, 3.0, 6.0]


def test_a_run_without_wall_times_has_no_time_axis() -> None:
    assert step_xs(steps(3, wall=False), "time", 10) is None
    assert epoch_xs([epoch(1, 12.0), epoch(2, None)], "time", 10) is None


def test_epoch_axes_count_epochs_their_last_step_or_seconds_trained() -> None:
    rows = [epoch(1, 12.0), epoch(2, 13.0)]
    assert epoch_xs(rows, "epoch", 20) == [1.0, 2.0]
    assert epoch_xs(rows, "step", 20) == [20.0, 40.0]
    assert epoch_xs(rows, "time", 20) == [12.0, 25.0]


def test_smoothed_series_has_its_raw_values_faint_behind() -> None:
    curve = Curve("loss", [1.0, 2.0, 3.0], [3.0, 1.0, 2.0], "cyan", raw_behind=True)
    raw, smoothed = view_series([curve], ChartView()).series
    assert raw.faint and raw.color == FAINT and raw.ys == [3.0, 1.0, 2.0]
    assert not smoothed.faint and smoothed.color == "cyan"
    assert smoothed.ys == smooth([3.0, 1.0, 2.0], 0.9)
    (only,) = view_series([curve], ChartView(smoothing=None)).series
    assert not only.faint and only.ys == [3.0, 1.0, 2.0]


def test_zoom_keeps_the_average_of_the_whole_curve() -> None:
    ys = [float(i) for i in range(10)]
    curve = Curve("loss", [float(i) for i in range(10)], ys, "cyan")
    (zoomed,) = view_series([curve], ChartView(last_n=3)).series
    assert zoomed.xs == [7.0, 8.0, 9.0] and zoomed.ys == smooth(ys, 0.9)[-3:]


def test_log_counts_each_skipped_point_once() -> None:
    curve = Curve("loss", [1.0, 2.0, 3.0], [10.0, 0.0, 100.0], "cyan", raw_behind=True)
    drawn = view_series([curve], ChartView(), log_y=True)
    assert drawn.skipped == 1 and drawn.yticks is not None
    assert view_title("log10 train loss", ChartView(), drawn.skipped) == (
        "log10 train loss · EMA 0.9 · 1 ≤0 skipped")


def test_pins_are_kept_per_store_and_survive_a_settings_change() -> None:
    assert load_pins("store-a") == []
    assert save_pins("store-a", [3, 1, 3]) == [1, 3]
    save_pins("store-b", [9])
    st.save(st.Settings(bell=False, pinned_runs=st.load_file().pinned_runs))
    assert load_pins("store-a") == [1, 3] and load_pins("store-b") == [9]
    assert save_pins("store-a", []) == [] and load_pins("store-b") == [9]


def test_malformed_pins_are_dropped_not_fatal() -> None:
    path = app_home() / "settings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"bell": True, "pinned_runs": {"s": [1, "x"], "t": 5}}))
    assert st.load_file().pinned_runs == {"s": [1]}


def test_toggling_pins_a_set_unless_all_are_pinned() -> None:
    assert toggled([1], [2, 3]) == [1, 2, 3]
    assert toggled([1, 2, 3], [2, 3]) == [1]
    assert toggled([1, 2], [2, 5]) == [1, 2, 5]
