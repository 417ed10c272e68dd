"""The live screen's three chart specs from a run, its steps, the pinned runs and the view.

Pure: the screen calls these on new data or a new view, and the charts rebuild only
when a spec differs from the one they drew.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tui import format as fmt
from tui.widgets.chart_options import ChartView, log10_points, log_ticks, run_colour
from tui.widgets.chart_series import (
    NO_EPOCH_TIMES,
    NO_WALL_TIMES,
    Curve,
    axis_options,
    empty_spec,
    epoch_xs,
    step_xs,
    steps_per_epoch,
    view_series,
    view_title,
)
from tui.widgets.metric_chart import ChartSpec, Series

if TYPE_CHECKING:
    from storage.records import RunDetail, StepRow


@dataclass
class LiveData:
    """What the live screen has fetched: its run, its steps, and each pinned run's."""

    run: RunDetail
    rows: Sequence[StepRow]
    pinned: dict[int, tuple[RunDetail, list[StepRow]]] = field(default_factory=dict)

    @property
    def steps_per_epoch(self) -> float:
        return steps_per_epoch(self.run.total_steps, self.run.epochs)

    def others(self) -> list[tuple[RunDetail, list[StepRow]]]:
        """Pinned runs other than this one, drawn behind it."""
        return [v for k, v in sorted(self.pinned.items()) if k != self.run.id]


def empty_note(run: RunDetail) -> str:
    # An ended run will get no points: say so rather than "waiting for data".
    return "waiting for data" if run.status in fmt.ACTIVE else f"no data, run {run.status}"


def step_window(data: LiveData, xs: list[float], view: ChartView) -> tuple[float, float] | None:
    """The x range of the step charts: the last N of this run's points when zoomed, else
    its planned steps or epochs (the whole run up front), else (time) the data's own."""
    if view.last_n and len(xs) > view.last_n:
        return xs[-view.last_n], xs[-1]
    total = data.run.total_steps
    if not total or view.x_axis == "time":
        return None
    return (1, total) if view.x_axis == "step" else (1 / data.steps_per_epoch, data.run.epochs)


def loss_spec(data: LiveData, view: ChartView) -> ChartSpec:
    """Train loss: EMA over the raw values (faint behind), pinned runs behind both."""
    axis, spe, run = view.x_axis, data.steps_per_epoch, data.run
    xs = step_xs(data.rows, axis, spe)
    if xs is None:
        return empty_spec("train loss", axis, NO_WALL_TIMES)
    curves = []
    for pinned, rows in data.others():
        pin_xs = step_xs(rows, axis, steps_per_epoch(pinned.total_steps, pinned.epochs))
        if pin_xs is not None:  # an untimed pinned run is left off a time axis
            curves.append(Curve(f"#{pinned.id}", pin_xs, [r.loss for r in rows],
                                run_colour(pinned.id)))
    curves.append(Curve("loss", xs, [r.loss for r in data.rows], run_colour(run.id),
                        raw_behind=True))
    xlim = step_window(data, xs, view)
    drawn = view_series(curves, view, log_y=view.log_y, xlim=xlim)
    base = "log10 train loss" if view.log_y else "train loss"
    return ChartSpec(view_title(base, view, drawn.skipped), drawn.series, xlim=xlim,
                     yticks=drawn.yticks, empty=empty_note(run),
                     short_titles=(view_title("loss", view, drawn.skipped), "loss"),
                     **axis_options(axis))


def val_spec(data: LiveData, view: ChartView) -> ChartSpec:
    """Val accuracy (left) and val loss (right, log when asked); pinned runs' accuracy behind."""
    axis, run = view.x_axis, data.run
    acc_rows = [r for r in run.epoch_rows if r.val_acc is not None]
    loss_rows = [r for r in run.epoch_rows if r.val_loss is not None]
    acc_x, loss_x = epoch_xs(acc_rows, axis, data.steps_per_epoch), epoch_xs(
        loss_rows, axis, data.steps_per_epoch)
    if acc_x is None or loss_x is None:
        return empty_spec("validation", axis, NO_EPOCH_TIMES)
    raw = ChartView(smoothing=None, last_n=view.last_n)  # a few epochs: never smoothed
    curves = []
    for pinned, _ in data.others():
        rows = [r for r in pinned.epoch_rows if r.val_acc is not None]
        pin_x = epoch_xs(rows, axis, steps_per_epoch(pinned.total_steps, pinned.epochs))
        if pin_x is not None:
            curves.append(Curve(f"#{pinned.id}", pin_x, [r.val_acc * 100 for r in rows],
                                run_colour(pinned.id)))  # val loss has the dots
    curves.append(Curve("val acc %", acc_x, [r.val_acc * 100 for r in acc_rows],
                        run_colour(run.id), marker="hd"))
    series = view_series(curves, raw).series
    loss_xs, loss_ys = [float(x) for x in loss_x], [r.val_loss for r in loss_rows]
    right_ticks, skipped = None, 0
    if view.log_y:
        loss_xs, loss_ys, skipped = log10_points(loss_xs, loss_ys)
        right_ticks = log_ticks(min(loss_ys), max(loss_ys)) if loss_ys else None
    series.append(Series("log10 val loss" if view.log_y else "val loss", loss_xs, loss_ys,
                         "yellow", right=True, marker="dot"))
    xlim = val_window(run, axis) if run.epoch_rows and not view.last_n else None
    note = f" · {skipped} ≤0 skipped" if skipped else ""
    return ChartSpec(
        f"val acc % (left) · val loss (right){note}", series, xlim=xlim, empty=empty_note(run),
        short_titles=(f"val acc % · val loss (right){note}", "val acc · loss", "validation"),
        right_yticks=right_ticks, **axis_options(axis))


def val_window(run: RunDetail, axis: str) -> tuple[float, float] | None:
    """The whole run up front, lined up with the step charts above and beside it."""
    if axis == "epoch":
        return 1, max(run.epochs, max(r.epoch for r in run.epoch_rows))
    if axis == "step" and run.total_steps:
        return 1, run.total_steps
    return None


def lr_spec(data: LiveData, view: ChartView) -> ChartSpec:
    """The planned schedule (on step and epoch axes), the values seen, a line at now."""
    axis, spe, run = view.x_axis, data.steps_per_epoch, data.run
    xs = step_xs(data.rows, axis, spe)
    if xs is None:
        return empty_spec("learning rate", axis, NO_WALL_TIMES)
    config = run.config
    plan_x, plan_y = fmt.planned_lr(str(config.get("schedule", "onecycle")),
                                    float(config.get("max_lr", run.max_lr)),
                                    float(config.get("pct_start", 0.3)), run.total_steps or 0)
    xlim = step_window(data, xs, view)
    series = []
    if axis != "time":
        scale = 1.0 if axis == "step" else 1 / spe
        plan = [(x * scale, y) for x, y in zip(plan_x, plan_y, strict=True)
                if xlim is None or xlim[0] <= x * scale <= xlim[1]]
        series.append(Series("plan", [x for x, _ in plan], [y for _, y in plan], "gray",
                             marker="dot"))
    seen = view_series([Curve("seen", xs, [r.lr for r in data.rows], "magenta", marker="hd")],
                       ChartView(smoothing=None, last_n=view.last_n), xlim=xlim).series
    now = xs[-1] if xs and data.rows[-1].step > 0 else None
    return ChartSpec("learning rate (plan, seen, now)", series + seen, xlim=xlim, vline=now,
                     empty=empty_note(run), short_titles=("learning rate", "lr"),
                     **axis_options(axis))
