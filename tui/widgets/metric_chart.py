"""A line chart of one or more series, drawn with plotext (textual-plotext)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.text import Text
from textual.app import RenderResult
from textual_plotext import PlotextPlot

from tui.widgets.chart_options import FAINT, time_ticks

MAX_POINTS = 400  # more points than a terminal has columns only costs render time


@dataclass
class Series:
    label: str
    xs: Sequence[float]
    ys: Sequence[float]
    color: str = "cyan"
    right: bool = False  # on the right-hand y axis (a second scale)
    marker: str = "braille"
    faint: bool = False  # drawn grey and unlabelled, behind the others (a raw series)
    legend: bool = True  # False: unlabelled, behind the labelled ones (a group's band edge)


@dataclass
class ChartSpec:
    title: str
    series: list[Series] = field(default_factory=list)
    xlabel: str = ""
    xlim: tuple[float, float] | None = None
    vline: float | None = None  # e.g. the current step
    # Shorter titles, tried in order when the chart is too narrow for ``title``.
    short_titles: tuple[str, ...] = ()
    whole_x: bool = False  # steps and epochs: only whole-number ticks on the x axis
    time_x: bool = False  # seconds: ticks on round strides labelled 30s, 5min, 2h
    empty: str = "waiting for data"  # said in the title while no series has a point
    # Fixed y ticks and their labels (a log10 axis labelled with the real values).
    yticks: tuple[list[float], list[str]] | None = None
    right_yticks: tuple[list[float], list[str]] | None = None  # the same, for the right axis


def fit_title(titles: Sequence[str], width: int) -> str:
    """The first title that fits ``width`` columns (plotext drops a title that does not),
    else the last one cut with an ellipsis."""
    room = max(1, width - 2)
    for title in titles:
        if len(title) <= room:
            return title
    last = titles[-1] if titles else ""
    return last[: room - 1] + "…" if len(last) > room else last


def whole_ticks(lo: float, hi: float, most: int) -> list[int]:
    """At most ``most`` whole-number ticks on a 1-2-5 ladder between ``lo`` and ``hi``:
    a step or an epoch is never 1.25 or 32.8."""
    first, last = math.ceil(lo), math.floor(hi)
    if last < first:
        return [round(lo)]
    most = max(2, most)
    span = last - first
    stride = 1
    while span // stride + 1 > most:
        stride = _next_stride(stride)
    start = -(-first // stride) * stride
    ticks = list(range(start, last + 1, stride))
    return ticks or [first]


def _next_stride(stride: int) -> int:
    """1, 2, 5, 10, 20, 50, ..."""
    lead = stride // 10 ** (len(str(stride)) - 1)
    return stride * 5 // 2 if lead == 2 else stride * 2


def thin(xs: Sequence[float], ys: Sequence[float],
         limit: int = MAX_POINTS) -> tuple[list[float], list[float]]:
    """Every n-th point (and always the last), so long runs plot as fast as short ones."""
    if len(xs) <= limit:
        return list(xs), list(ys)
    stride = -(-len(xs) // limit)
    idx = list(range(0, len(xs), stride))
    if idx[-1] != len(xs) - 1:
        idx.append(len(xs) - 1)
    return [xs[i] for i in idx], [ys[i] for i in idx]


class MetricChart(PlotextPlot):
    """Set ``spec`` and it redraws; an empty chart says it is waiting for data."""

    def __init__(self, title: str, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.spec = ChartSpec(title)
        self._version = 0
        self._cache: tuple[object, RenderResult] | None = None
        self._xrange: tuple[float, float] | None = None  # of the data or xlim; None: no data

    def render(self) -> RenderResult:
        """Build the plot only when its data, size or theme changed.

        plotext builds the whole figure on every render; without this a dialog over
        the live screen, or a cursor move, would rebuild three charts each time.
        """
        key = (self._version, self.size, self.app.theme)
        if self._cache is None or self._cache[0] != key:
            self._build(self.size.width)
            self._cache = (key, super().render())
        rendered = self._cache[1]
        return rendered.copy() if isinstance(rendered, Text) else rendered

    def on_mount(self) -> None:
        self.draw(self.spec)

    def shown_title(self, width: int) -> str:
        """The title as drawn at ``width`` columns (with the empty note while no data)."""
        spec = self.spec
        titles = [spec.title, *spec.short_titles]
        if not self._xrange:
            titles = [f"{t} ({spec.empty})" for t in titles] + [spec.empty]
        return fit_title(titles, width)

    def _fit_to_width(self, width: int) -> None:
        """What depends on the width: the title that fits and the number of ticks."""
        self.plt.title(self.shown_title(width))
        if self.spec.whole_x and self._xrange:
            ticks = whole_ticks(*self._xrange, most=(width - 8) // 7)
            self.plt.xticks(ticks, [str(t) for t in ticks])
        elif self.spec.time_x and self._xrange:
            self.plt.xticks(*time_ticks(*self._xrange, most=(width - 8) // 8))

    def draw(self, spec: ChartSpec) -> None:
        """Take ``spec``; it is built at the next render. The same spec again costs nothing
        (the live screen polls every second)."""
        if spec == self.spec and self._version:
            return
        self.spec = spec
        drawn = [s.xs for s in spec.series if s.xs]
        # None while nothing is drawn: no ticks to place, and the title says it is empty.
        self._xrange = (spec.xlim or (min(min(xs) for xs in drawn), max(max(xs) for xs in drawn))
                        if drawn else None)
        self._version += 1
        self.refresh()

    def _build(self, width: int) -> None:
        """The plotext figure for the spec at ``width``: braille has two dots per column,
        so each series is thinned to twice the width (plotext's cost grows with points)."""
        spec, plt = self.spec, self.plt
        plt.clear_data()
        plt.clear_figure()
        if spec.xlabel:
            plt.xlabel(spec.xlabel)
        limit = min(MAX_POINTS, max(40, 2 * width))
        # Faint series first, then band edges: plotext draws later series over earlier ones.
        for s in sorted(spec.series, key=lambda s: (not s.faint, s.legend)):
            xs, ys = thin(s.xs, s.ys, limit)
            if xs:
                plt.plot(xs, ys, label=s.label if s.legend and not s.faint else None,
                         color=FAINT if s.faint else s.color, marker=s.marker,
                         yside="right" if s.right else "left")
        if self._xrange:
            if spec.xlim is not None:
                plt.xlim(*spec.xlim)
            if spec.yticks is not None:
                plt.yticks(*spec.yticks)
            if spec.right_yticks is not None:
                plt.yticks(*spec.right_yticks, yside="right")
            if spec.vline is not None:
                plt.vline(spec.vline, "red")
        self._fit_to_width(width)
