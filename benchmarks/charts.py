"""Chart libraries side by side: the same chart drawn by textual-plotext (plotext 5) and by
textual-plot, then by the app's own MetricChart (plotext, with its render cache).

    .venv/bin/python benchmarks/charts.py [--repeats 30]

The chart: 3 series x 400 points, braille lines, in a 120x40 and an 80x24 terminal. Each
draw is "set the data, build the figure, turn it into the terminal lines Textual paints".
Baseline: textual-plotext's PlotextPlot, the library the app used before (plain, no cache).
textual-plot is optional (`pip install textual-plot==0.10.1`); without it its rows say so.
Medians, since the box is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual.app import App, ComposeResult  # noqa: E402
from textual.geometry import Region  # noqa: E402
from textual.widget import Widget  # noqa: E402
from textual_plotext import PlotextPlot  # noqa: E402

from tui.widgets.metric_chart import ChartSpec, MetricChart, Series  # noqa: E402

POINTS = 400
SIZES = ((120, 40), (80, 24))
COLOURS = ("cyan", "magenta", "green")


def curves(shift: float) -> list[tuple[list[float], list[float]]]:
    """Three loss-like curves; ``shift`` changes the data so no cache can answer."""
    xs = [float(i + 1) for i in range(POINTS)]
    return [(xs, [2.3 * math.exp(-(x + shift) / (60 + 20 * k)) + 0.05 * math.sin(x * 1.7 + k)
                  for x in xs]) for k in range(3)]


def paint(widget: Widget) -> int:
    """The lines Textual would paint for ``widget`` (its render, then its strips)."""
    widget.refresh()  # marks it dirty: its render runs again
    widget._styles_cache.clear()
    region = Region(0, 0, widget.size.width, widget.size.height)
    return len(widget.render_lines(region))


def draw_plotext(widget: PlotextPlot, shift: float) -> None:
    plt = widget.plt
    plt.clear_data()
    plt.clear_figure()
    plt.title("loss")
    for (xs, ys), colour in zip(curves(shift), COLOURS, strict=True):
        plt.plot(xs, ys, color=colour, marker="braille", label=colour)
    paint(widget)


def draw_metric_chart(widget: MetricChart, shift: float) -> None:
    widget.draw(ChartSpec("loss", [Series(c, xs, ys, c)
                                   for (xs, ys), c in zip(curves(shift), COLOURS, strict=True)],
                          xlabel="step", whole_x=True))
    paint(widget)


def repaint_metric_chart(widget: MetricChart, shift: float) -> None:
    """The same spec again (a dialog opened over the live screen): no rebuild, a repaint."""
    widget.draw(ChartSpec("loss", [Series(c, xs, ys, c)
                                   for (xs, ys), c in zip(curves(0.0), COLOURS, strict=True)],
                          xlabel="step", whole_x=True))
    paint(widget)


def draw_textual_plot(widget: Widget, shift: float) -> None:
    from textual_hires_canvas import Canvas, HiResMode

    widget.clear()
    for (xs, ys), colour in zip(curves(shift), COLOURS, strict=True):
        widget.plot(xs, ys, line_style=colour, hires_mode=HiResMode.BRAILLE, label=colour)
    widget._render_plot()  # what its render() does when the data changed
    for canvas in widget.query(Canvas):
        paint(canvas)


def textual_plot_widget() -> Widget | None:
    try:
        from textual_plot import PlotWidget
    except ImportError:
        return None
    return PlotWidget()


class Bench(App[None]):
    def __init__(self, chart: Widget) -> None:
        super().__init__()
        self.chart = chart

    def compose(self) -> ComposeResult:
        yield self.chart


async def time_draws(chart: Widget, draw: Callable[[Widget, float], None], size: tuple[int, int],
                     repeats: int) -> float:
    """Median ms of one draw of ``chart`` in a headless terminal of ``size``."""
    app = Bench(chart)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        draw(chart, 0.0)  # warm-up: imports, themes, first layout
        times = []
        for i in range(repeats):
            start = time.perf_counter()
            draw(chart, float(i + 1))
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


async def main(repeats: int) -> None:
    print(f"3 series x {POINTS} points, braille; median of {repeats} draws (ms)")
    print(f"{'size':>8}  {'plotext':>8}  {'MetricChart':>11}  {'  cached':>8}  "
          f"{'textual-plot':>12}  {'tplot/plotext':>13}")
    for size in SIZES:
        base = await time_draws(PlotextPlot(), draw_plotext, size, repeats)
        ours = await time_draws(MetricChart("loss"), draw_metric_chart, size, repeats)
        cached = await time_draws(MetricChart("loss"), repaint_metric_chart, size, repeats)
        other = textual_plot_widget()
        if other is None:
            tplot, ratio = "absent", "–"
        else:
            ms = await time_draws(other, draw_textual_plot, size, repeats)
            tplot, ratio = f"{ms:.1f}", f"{ms / base:.2f}x"
        print(f"{size[0]:>4}x{size[1]:<3}  {base:8.1f}  {ours:11.1f}  {cached:8.2f}  "
              f"{tplot:>12}  {ratio:>13}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    asyncio.run(main(parser.parse_args().repeats))
