"""The charts' pure helpers: EMA and its off switch, the log transform, time and log
ticks, last-N zoom, the view's key cycles, and each run's stable colour."""

from __future__ import annotations

import math

import pytest

from tui.widgets.chart_options import (
    ChartView,
    last_points,
    log10_points,
    log_ticks,
    run_colour,
    run_rich_colour,
    smooth,
    time_ticks,
)


def test_ema_keeps_the_smoothing_weight_of_the_previous_average() -> None:
    assert smooth([1.0, 3.0, 3.0], 0.5) == [1.0, 2.0, 2.5]  # seeded by the first value
    assert smooth([1.0, 3.0, 3.0], 0.9) == pytest.approx([1.0, 1.2, 1.38])


def test_smoothing_off_leaves_the_values_raw() -> None:
    assert smooth([1.0, 3.0, 2.0], None) == [1.0, 3.0, 2.0]
    view = ChartView()
    assert view.smoothing_label == "EMA 0.9"
    off = view.smoothing_toggled()
    assert off.smoothing is None and off.smoothing_label == "raw"
    assert off.smoothing_toggled().smoothing == 0.9
    light = ChartView(smoothing=None, ema_weight=0.5).smoothing_toggled()
    assert light.smoothing_label == "EMA 0.5"


def test_log_transform_skips_and_counts_what_a_log_axis_cannot_show() -> None:
    values = [10.0, 0.0, -3.0, 1000.0, math.inf, math.nan]
    xs, ys, skipped = log10_points([1, 2, 3, 4, 5, 6], values)
    assert xs == [1, 4] and ys == [1.0, 3.0] and skipped == 4


def test_log_ticks_are_decades_labelled_with_real_values() -> None:
    assert log_ticks(-0.35, 5.92) == ([0.0, 2.0, 4.0], ["1", "100", "10k"])
    assert log_ticks(0.1, 0.5)[1] == ["1.26", "3.16"]


@pytest.mark.parametrize(("lo", "hi", "most", "labels"), [
    (0, 50, 6, ["0s", "10s", "20s", "30s", "40s", "50s"]),
    (0, 600, 6, ["0min", "2min", "4min", "6min", "8min", "10min"]),
    (0, 5 * 3600, 7, ["0h", "1h", "2h", "3h", "4h", "5h"]),
    (90, 400, 4, ["2min", "4min", "6min"]),  # the first tick after the start
])
def test_time_ticks_land_on_round_strides_in_a_readable_unit(lo, hi, most, labels) -> None:  # noqa: ANN001
    ticks, shown = time_ticks(lo, hi, most)
    assert shown == labels and len(ticks) <= most
    assert all(lo <= t <= hi for t in ticks)


def test_time_ticks_of_a_single_instant_do_not_fail() -> None:
    ticks, labels = time_ticks(0.0, 0.0, 5)
    assert ticks == [0.0] and labels == ["0s"]


def test_last_points_keeps_the_tail() -> None:
    assert last_points([1, 2, 3, 4], [5, 6, 7, 8], 2) == ([3, 4], [7, 8])
    assert last_points([1, 2], [5, 6], 50) == ([1, 2], [5, 6])
    assert last_points([1, 2], [5, 6], None) == ([1, 2], [5, 6])


def test_view_keys_cycle_back_to_where_they_started() -> None:
    view = ChartView()
    axes = [view.x_axis]
    for _ in range(3):
        view = view.next_x_axis()
        axes.append(view.x_axis)
    assert axes == ["step", "epoch", "time", "step"]
    zooms = [ChartView().next_zoom().last_n, ChartView().next_zoom().next_zoom().last_n]
    assert zooms == [200, 50] and ChartView(last_n=50).next_zoom().last_n is None
    assert ChartView(last_n=200).zoom_label == "last 200"


def test_a_run_keeps_its_colour_whatever_it_is_shown_with() -> None:
    assert run_colour(7) == run_colour(7)
    assert len({run_colour(i) for i in range(1, 7)}) == 6  # neighbours differ
    assert run_rich_colour(3) != run_rich_colour(4)
