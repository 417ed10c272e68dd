"""What a chart shows (smoothing, log-Y, x axis, zoom) and the pure helpers behind it:
EMA, the log10 transform, time and log ticks, and each run's stable colour."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from tui.format import ema

SMOOTHING = 0.9  # TensorBoard's convention: the weight kept from the previous average
X_AXES = ("step", "epoch", "time")
ZOOMS: tuple[int | None, ...] = (None, 200, 50)  # all, then the last N points
# Plotext colour, and the same colour for Rich (table headers): a run keeps it everywhere.
RUN_COLOURS = (("cyan", "cyan"), ("magenta", "magenta"), ("green", "green"),
               ("orange", "yellow"), ("blue+", "bright_blue"), ("red+", "bright_red"))
FAINT = "gray"  # raw series behind their smoothed line


@dataclass(frozen=True)
class ChartView:
    """The user's choices for a screen's charts; each key moves one of them."""

    smoothing: float | None = SMOOTHING  # None: raw
    log_y: bool = False
    x_axis: str = "step"
    last_n: int | None = None  # None: every point
    ema_weight: float = SMOOTHING  # what the smoothing key turns on (less for a few epochs)

    def smoothing_toggled(self) -> ChartView:
        return replace(self, smoothing=None if self.smoothing else self.ema_weight)

    def log_toggled(self) -> ChartView:
        return replace(self, log_y=not self.log_y)

    def next_x_axis(self, axes: Sequence[str] = X_AXES) -> ChartView:
        at = axes.index(self.x_axis) if self.x_axis in axes else -1
        return replace(self, x_axis=axes[(at + 1) % len(axes)])

    def next_zoom(self) -> ChartView:
        at = ZOOMS.index(self.last_n) if self.last_n in ZOOMS else -1
        return replace(self, last_n=ZOOMS[(at + 1) % len(ZOOMS)])

    @property
    def smoothing_label(self) -> str:
        return f"EMA {self.smoothing:g}" if self.smoothing else "raw"

    @property
    def zoom_label(self) -> str:
        return f"last {self.last_n}" if self.last_n else "all"


def run_colour(run_id: int) -> str:
    """The run's plotext colour, from its id: the same run, the same colour, on every screen."""
    return RUN_COLOURS[run_id % len(RUN_COLOURS)][0]


def run_rich_colour(run_id: int) -> str:
    return RUN_COLOURS[run_id % len(RUN_COLOURS)][1]


def smooth(values: Sequence[float], smoothing: float | None) -> list[float]:
    """EMA keeping ``smoothing`` of the previous average; None or 0 leaves the values raw."""
    return ema(list(values), alpha=1 - smoothing) if smoothing else list(values)


def last_points(xs: Sequence[float], ys: Sequence[float],
                n: int | None) -> tuple[list[float], list[float]]:
    if n is None or len(xs) <= n:
        return list(xs), list(ys)
    return list(xs[-n:]), list(ys[-n:])


def log10_points(xs: Sequence[float], ys: Sequence[float]) -> tuple[list[float], list[float], int]:
    """log10 of each positive, finite y with its x, and how many points were skipped:
    a log axis cannot show zero, a negative value, inf or nan."""
    kept_x: list[float] = []
    kept_y: list[float] = []
    for x, y in zip(xs, ys, strict=True):
        if y > 0 and math.isfinite(y):
            kept_x.append(x)
            kept_y.append(math.log10(y))
    return kept_x, kept_y, len(xs) - len(kept_x)


def log_ticks(lo: float, hi: float, most: int = 5) -> tuple[list[float], list[str]]:
    """Ticks for log10 values ``lo`` to ``hi``, labelled with the real values: whole decades
    inside the range (every n-th, on multiples of n), else just the two ends."""
    first, last = math.ceil(lo), math.floor(hi)
    if last - first < 1:
        return [lo, hi], [f"{10**lo:.3g}", f"{10**hi:.3g}"]
    stride = -(-(last - first) // max(1, most - 1))
    start = -(-first // stride) * stride  # 1, 100, 10k rather than 10, 1k, 100k
    decades = range(start, last + 1, stride)
    return [float(d) for d in decades], [fmt_power(d) for d in decades]


def fmt_power(decade: int) -> str:
    value = 10.0**decade
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


# Tick strides in seconds, and the unit each is labelled in.
TIME_STRIDES = ((1, "s"), (2, "s"), (5, "s"), (10, "s"), (15, "s"), (30, "s"),
                (60, "min"), (120, "min"), (300, "min"), (600, "min"), (900, "min"),
                (1800, "min"), (3600, "h"), (7200, "h"), (10800, "h"), (21600, "h"),
                (43200, "h"), (86400, "h"))
UNIT_SECONDS = {"s": 1, "min": 60, "h": 3600}


def time_ticks(lo: float, hi: float, most: int) -> tuple[list[float], list[str]]:
    """At most ``most`` ticks between ``lo`` and ``hi`` seconds, on round strides
    (10 s, 5 min, 1 h ...), labelled in the stride's unit ("30s", "5min", "2h")."""
    most = max(2, most)
    span = max(0.0, hi - lo)
    stride, unit = TIME_STRIDES[-1]
    for seconds, name in TIME_STRIDES:
        if span / seconds + 1 <= most:
            stride, unit = seconds, name
            break
    start = math.ceil(lo / stride) * stride
    ticks = [float(t) for t in range(int(start), int(hi) + 1, stride)] or [float(lo)]
    return ticks, [time_label(t, unit) for t in ticks]


def time_label(seconds: float, unit: str) -> str:
    return f"{seconds / UNIT_SECONDS[unit]:g}{unit}"
