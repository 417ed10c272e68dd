"""From stored rows to chart series under a ChartView: the x axis (step, epoch or wall
time), then smoothing (raw kept faint behind), zoom on the last N points and log-Y."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tui.widgets.chart_options import FAINT, ChartView, last_points, log10_points, log_ticks, smooth
from tui.widgets.metric_chart import ChartSpec, Series

if TYPE_CHECKING:
    from storage.groups import BandPoint
    from storage.records import EpochRow, StepRow

NO_WALL_TIMES = "no wall times: steps stored before schema 0004"
NO_EPOCH_TIMES = "no epoch times recorded"


@dataclass
class Curve:
    """One run's metric against the chosen x axis, before smoothing, zoom and log."""

    label: str
    xs: list[float]
    ys: list[float]
    color: str
    marker: str = "braille"
    right: bool = False
    raw_behind: bool = False  # when smoothed, draw the raw values faint behind
    legend: bool = True  # False for a group's band edges (min and max), drawn unlabelled


@dataclass
class Drawn:
    """What ``view_series`` made: the series, the log ticks, and what it had to leave out."""

    series: list[Series] = field(default_factory=list)
    yticks: tuple[list[float], list[str]] | None = None
    skipped: int = 0  # points a log axis cannot show (zero, negative, inf, nan)


def step_xs(rows: Sequence[StepRow], axis: str, steps_per_epoch: float) -> list[float] | None:
    """Each step's x; None when the axis is wall time and a row has none (stored before 0004).
    Time counts from the run's first logged step."""
    if axis == "time":
        times = [r.wall_time for r in rows]
        if any(t is None for t in times):
            return None
        start = times[0] if times else 0.0
        return [t - start for t in times]  # type: ignore[operator]
    if axis == "epoch":
        return [r.step / steps_per_epoch for r in rows]
    return [float(r.step) for r in rows]


def epoch_xs(rows: Sequence[EpochRow], axis: str, steps_per_epoch: float) -> list[float] | None:
    """Each epoch's x: its number, its last step, or the seconds trained by its end
    (None when an epoch has no time)."""
    if axis == "time":
        total, out = 0.0, []
        for r in rows:
            if r.seconds is None:
                return None
            total += r.seconds
            out.append(total)
        return out
    if axis == "step":
        return [r.epoch * steps_per_epoch for r in rows]
    return [float(r.epoch) for r in rows]


def view_series(curves: Sequence[Curve], view: ChartView, log_y: bool = False,
                xlim: tuple[float, float] | None = None) -> Drawn:
    """Smooth over the whole curve (so zoom never reseeds the average), then keep the last
    ``view.last_n`` points, or those inside ``xlim``, then take log10 when asked."""
    drawn = Drawn()
    for curve in curves:
        parts = [(curve.ys, False)]
        if view.smoothing:
            smoothed = smooth(curve.ys, view.smoothing)
            parts = [(smoothed, False)]
            if curve.raw_behind:
                parts.insert(0, (curve.ys, True))
        for i, (ys, faint) in enumerate(parts):
            xs, ys = window(curve.xs, ys, view.last_n, xlim)
            if log_y:
                xs, ys, skipped = log10_points(xs, ys)
                drawn.skipped += skipped if i == 0 else 0  # each point counted once
            drawn.series.append(Series(curve.label, xs, ys, FAINT if faint else curve.color,
                                       right=curve.right, marker=curve.marker, faint=faint,
                                       legend=curve.legend))
    if log_y:
        ys = [y for s in drawn.series if not s.right for y in s.ys]
        drawn.yticks = log_ticks(min(ys), max(ys)) if ys else None
    return drawn


def window(xs: Sequence[float], ys: Sequence[float], last_n: int | None,
           xlim: tuple[float, float] | None) -> tuple[list[float], list[float]]:
    if xlim is None:
        return last_points(xs, ys, last_n)
    kept = [(x, y) for x, y in zip(xs, ys, strict=True) if xlim[0] <= x <= xlim[1]]
    return [x for x, _ in kept], [y for _, y in kept]


BAND_MARKER = "dot"  # band edges as dotted lines (•) in the group's colour, under its mean


def band_curves(label: str, points: Sequence[BandPoint], xs: Sequence[float], color: str,
                scale: float = 1.0) -> list[Curve]:
    """A seed group's curve: its mean (labelled, braille) and, when it has more than one
    run at some x, the min and max across its runs as dotted edges of a band."""
    mean = Curve(label, list(xs), [p.mean * scale for p in points], color)
    if all(p.n < 2 for p in points):
        return [mean]
    edges = [Curve(label, list(xs), [getattr(p, side) * scale for p in points], color,
                   marker=BAND_MARKER, legend=False) for side in ("low", "high")]
    return [*edges, mean]


def axis_options(axis: str) -> dict[str, object]:
    """ChartSpec's x options for an axis: whole ticks for steps and epochs, round times."""
    return {"xlabel": "time" if axis == "time" else axis, "whole_x": axis != "time",
            "time_x": axis == "time"}


def view_title(base: str, view: ChartView, skipped: int = 0,
               smoothing_shown: bool = True) -> str:
    """``base`` with what the view changed: "train loss · EMA 0.9 · last 200"; a log
    axis says how many points it could not show."""
    parts = [base]
    if smoothing_shown:
        parts.append(view.smoothing_label)
    if skipped:
        parts.append(f"{skipped} ≤0 skipped")
    if view.last_n:
        parts.append(view.zoom_label)
    return " · ".join(parts)


def steps_per_epoch(total_steps: int | None, epochs: int | None) -> float:
    """For putting epochs on a step axis and steps on an epoch axis (1 when unknown)."""
    return total_steps / epochs if total_steps and epochs else 1.0


def empty_spec(title: str, axis: str, why: str) -> ChartSpec:
    """A chart that says why it has nothing to draw (e.g. no wall times for this run)."""
    return ChartSpec(title, [], empty=why, **axis_options(axis))  # type: ignore[arg-type]
