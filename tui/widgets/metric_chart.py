"""A line chart of one or more series, drawn with plotext (textual-plotext)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.text import Text
from textual.app import RenderResult
from textual_plotext import PlotextPlot

MAX_POINTS = 400  # more points than a terminal has columns only costs render time


@dataclass
class Series:
    label: str
    xs: Sequence[float]
    ys: Sequence[float]
    color: str = "cyan"
    right: bool = False  # on the right-hand y axis (a second scale)
    marker: str = "braille"


@dataclass
class ChartSpec:
    title: str
    series: list[Series] = field(default_factory=list)
    xlabel: str = ""
    xlim: tuple[float, float] | None = None
    vline: float | None = None  # e.g. the current step


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

    def render(self) -> RenderResult:
        """Build the plot only when its data, size or theme changed.

        plotext builds the whole figure on every render; without this a dialog over
        the live screen, or a cursor move, would rebuild three charts each time.
        """
        key = (self._version, self.size, self.app.theme)
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, super().render())
        rendered = self._cache[1]
        return rendered.copy() if isinstance(rendered, Text) else rendered

    def on_mount(self) -> None:
        self.draw(self.spec)

    def draw(self, spec: ChartSpec) -> None:
        self.spec = spec
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(spec.title)
        if spec.xlabel:
            plt.xlabel(spec.xlabel)
        has_data = False
        for s in spec.series:
            xs, ys = thin(s.xs, s.ys)
            if not xs:
                continue
            has_data = True
            plt.plot(xs, ys, label=s.label, color=s.color, marker=s.marker,
                     yside="right" if s.right else "left")
        if not has_data:
            plt.title(f"{spec.title} (waiting for data)")
        if spec.xlim is not None:
            plt.xlim(*spec.xlim)
        if spec.vline is not None and has_data:
            plt.vline(spec.vline, "red")
        self._version += 1
        self.refresh()
