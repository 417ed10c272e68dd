"""The report's figures, drawn with matplotlib's object API on the Agg canvas.

No pyplot: it keeps global state (not safe in the TUI's worker thread) and may pick a GUI
backend. Imported only when a report is written, never at start-up. No numpy either: the
TUI's floor forbids it, and matplotlib takes plain lists.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure, SubFigure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator, PercentFormatter

# One row of panels is WIDTH x ROW_HEIGHT inches; at DPI a PNG is 1500 x 450 pixels a row.
WIDTH_IN = 15.0
ROW_HEIGHT_IN = 4.5
DPI = 100
LOG_SPAN = 100.0  # as the compare screen: a loss axis turns log past this max/min ratio
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")  # matplotlib's tab10, red second for A-vs-B


@dataclass(frozen=True)
class Curve:
    """One line: xs against ys; a group's mean also has the band from ``low`` to ``high``."""

    xs: list[float]
    ys: list[float]
    low: list[float] | None = None
    high: list[float] | None = None

    def scaled(self, factor: float) -> Curve:
        def times(v: list[float] | None) -> list[float] | None:
            return None if v is None else [y * factor for y in v]

        return Curve(self.xs, [y * factor for y in self.ys], times(self.low), times(self.high))


@dataclass(frozen=True)
class RunLines:
    """What one run (or a group's mean) draws on the curve panels."""

    label: str
    val_acc: Curve  # epoch -> val accuracy (fraction)
    train_loss: Curve  # epoch -> train loss
    val_loss: Curve  # epoch -> val loss
    lr: Curve  # step -> learning rate


@dataclass(frozen=True)
class ClassResults:
    """One run's test results by class."""

    label: str
    class_names: list[str]
    per_class_acc: list[float] | None
    confusion: list[list[int]] | None


def finite(curve: Curve) -> Curve:
    """The points that can be plotted (an exploded run logs inf or nan)."""
    low = curve.low or curve.ys
    high = curve.high or curve.ys
    keep = [i for i, y in enumerate(curve.ys)
            if math.isfinite(y) and math.isfinite(low[i]) and math.isfinite(high[i])]

    def pick(values: list[float]) -> list[float]:
        return [values[i] for i in keep]

    has_band = curve.low is not None and curve.high is not None
    return Curve(pick(curve.xs), pick(curve.ys), pick(low) if has_band else None,
                 pick(high) if has_band else None)


def colour(i: int) -> str:
    return COLOURS[i % len(COLOURS)]


def new_figure(rows: int) -> Figure:
    fig = Figure(figsize=(WIDTH_IN, ROW_HEIGHT_IN * rows), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)  # savefig swaps in the SVG or PDF canvas for those formats
    return fig


def report_figure(runs: Sequence[RunLines], classes: ClassResults | None) -> Figure:
    """The seed notebook's three plots side by side; below them, for one run, its
    confusion matrix and per-class accuracy. Each row is a subfigure, so the confusion
    matrix's colour bar does not squeeze the curves above it."""
    fig = new_figure(2 if classes is not None else 1)
    if classes is None:
        draw_curves(fig, runs)
        return fig
    top, bottom = fig.subfigures(2, 1)
    draw_curves(top, runs)
    draw_classes(bottom, classes)
    return fig


def curves_figure(runs: Sequence[RunLines]) -> Figure:
    return report_figure(runs, None)


def classes_figure(classes: ClassResults) -> Figure:
    fig = new_figure(1)
    draw_classes(fig, classes)
    return fig


def draw_curves(fig: Figure | SubFigure, runs: Sequence[RunLines]) -> None:
    acc, loss, lr = fig.subplots(1, 3)
    draw_accuracy(acc, runs)
    draw_loss(loss, runs)
    draw_lr(lr, runs)


def draw_classes(fig: Figure | SubFigure, classes: ClassResults) -> None:
    confusion, per_class = fig.subplots(1, 2, width_ratios=[2, 1])
    draw_confusion(confusion, classes)
    draw_per_class(per_class, classes)


def _epoch_axis(ax: Axes, title: str, ylabel: str) -> None:
    ax.set_title(title)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)


def _plot(ax: Axes, curve: Curve, i: int, band: bool = True, **style: object) -> None:
    points = finite(curve)
    # A single point draws no line: a marker keeps it visible.
    marker = "o" if len(points.xs) <= 12 else None
    ax.plot(points.xs, points.ys, color=colour(i), marker=marker, markersize=4, **style)
    if band and points.low is not None and points.high is not None:
        ax.fill_between(points.xs, points.low, points.high, color=colour(i), alpha=0.15,
                        linewidth=0)


def draw_accuracy(ax: Axes, runs: Sequence[RunLines]) -> None:
    for i, run in enumerate(runs):
        _plot(ax, run.val_acc.scaled(100), i, label=run.label, linewidth=2)
    grouped = any(run.val_acc.low is not None for run in runs)
    title = "Validation accuracy" + ("\n(g:N: mean over seeds, shaded min to max)"
                                     if grouped else "")
    _epoch_axis(ax, title, "accuracy")
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax.legend(loc="lower right", fontsize="small")


def draw_loss(ax: Axes, runs: Sequence[RunLines]) -> None:
    """Train dashed, val solid, one colour per run (the legend of the accuracy panel)."""
    values: list[float] = []
    for i, run in enumerate(runs):
        # A group's band on val only: two overlapping bands would hide each other.
        _plot(ax, run.train_loss, i, band=False, linestyle="--", linewidth=1.5, alpha=0.8)
        _plot(ax, run.val_loss, i, linestyle="-", linewidth=2)
        for curve in (finite(run.train_loss), finite(run.val_loss)):
            values += curve.ys + (curve.low or []) + (curve.high or [])
    positive = [v for v in values if v > 0]
    if positive and max(positive) / min(positive) > LOG_SPAN:
        ax.set_yscale("log")
    _epoch_axis(ax, "Loss" + (" (log scale)" if ax.get_yscale() == "log" else ""), "loss")
    key = [Line2D([], [], color="0.3", linestyle="--", label="train"),
           Line2D([], [], color="0.3", linestyle="-", label="val")]
    ax.legend(handles=key, loc="upper right", fontsize="small")


def draw_lr(ax: Axes, runs: Sequence[RunLines]) -> None:
    drawn = False
    for i, run in enumerate(runs):
        points = finite(run.lr)
        if points.xs:
            # Runs often share a schedule: each later line thinner, so none hides another.
            ax.plot(points.xs, points.ys, color=colour(i), linewidth=1.2 + (len(runs) - 1 - i))
            drawn = True
    ax.set_title("Learning rate")
    ax.set_xlabel("batch (step)")
    ax.set_ylabel("learning rate")
    ax.grid(True, alpha=0.3)
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    if not drawn:
        ax.text(0.5, 0.5, "no step metrics stored", ha="center", va="center",
                transform=ax.transAxes, color="0.4")


def draw_confusion(ax: Axes, classes: ClassResults) -> None:
    ax.set_title(f"Confusion matrix, test set ({classes.label})")
    matrix = classes.confusion
    if not matrix:
        _nothing(ax, "no confusion matrix: the run has no test results yet")
        return
    names = _names(classes, len(matrix))
    image = ax.imshow(matrix, cmap="Blues", aspect="auto")
    ax.figure.colorbar(image, ax=ax, shrink=0.9, label="images")
    top = max((v for row in matrix for v in row), default=0)
    if len(matrix) <= 12:  # counts stay legible up to about a dozen classes
        for r, row in enumerate(matrix):
            for c, value in enumerate(row):
                ax.text(c, r, str(value), ha="center", va="center", fontsize=8,
                        color="white" if value > top / 2 else "black")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize="small")
    ax.set_yticks(range(len(names)), names, fontsize="small")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")


def draw_per_class(ax: Axes, classes: ClassResults) -> None:
    ax.set_title("Per-class test accuracy")
    accs = classes.per_class_acc
    if not accs:
        _nothing(ax, "no per-class accuracy: the run has no test results yet")
        return
    names = _names(classes, len(accs))
    rows = list(range(len(accs)))
    bars = ax.barh(rows, [a * 100 for a in accs], color=[_bar_colour(a) for a in accs])
    ax.bar_label(bars, labels=[f"{a * 100:.1f}%" for a in accs], padding=3, fontsize="small")
    ax.set_yticks(rows, names, fontsize="small")
    ax.invert_yaxis()  # first class on top, as in the confusion matrix
    ax.set_xlim(0, 115)  # room for the value labels past a 100% bar
    ax.xaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.grid(True, axis="x", alpha=0.3)


def _bar_colour(acc: float) -> str:
    """As the TUI's per-class bars: green from 80%, amber from 50%, else red."""
    return "#2ca02c" if acc >= 0.8 else "#ff9f1c" if acc >= 0.5 else "#d62728"


def _names(classes: ClassResults, n: int) -> list[str]:
    names = list(classes.class_names)
    return names if len(names) == n else [str(i) for i in range(n)]


def _nothing(ax: Axes, text: str) -> None:
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")
