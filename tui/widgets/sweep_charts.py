"""A sweep's charts: best-so-far against trial number, and one scatter per swept parameter
against the metric (log-x for a log range, one column per choice for a list of words).

Pure functions from a ``worker.sweeps.SweepSummary`` to chart specs, and a scatter chart
on ``MetricChart``'s cache; plotext, as every other chart here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.config import FIELDS
from tui.widgets.chart_options import log_ticks
from tui.widgets.metric_chart import ChartSpec, MetricChart, Series

if TYPE_CHECKING:
    from worker.sweeps import SweepSummary

LOG_SPAN = 20.0  # a list of numbers whose largest is 20x its smallest is drawn on log-x


@dataclass(frozen=True)
class Param:
    """How a swept parameter is drawn: ``log`` (log10 x, labelled with real values) or
    ``choices`` (one x per item, labelled with it); else a plain number axis."""

    name: str
    log: bool = False
    choices: tuple[str, ...] = ()
    limits: tuple[float, float] | None = None  # a range's ends, as drawn


@dataclass
class ScatterSpec(ChartSpec):
    xticks: tuple[list[float], list[str]] | None = None


def swept_params(spec: dict[str, Any]) -> list[Param]:
    """The sweep's parameters (``SweepSpec.to_dict``'s values and ranges) in table order."""
    params = []
    for name, items in (spec.get("values") or {}).items():
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in items)
        if not numeric:
            params.append(Param(name, choices=tuple(_word(v) for v in items)))
            continue
        low, high = min(items), max(items)
        log = low > 0 and high / low >= LOG_SPAN
        params.append(Param(name, log=log, limits=_drawn(low, high, log)))
    for name, r in (spec.get("ranges") or {}).items():
        params.append(Param(name, log=bool(r["log"]), limits=_drawn(r["low"], r["high"],
                                                                   bool(r["log"]))))
    order = list(FIELDS)
    return sorted(params, key=lambda p: order.index(p.name) if p.name in order else len(order))


def _word(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _drawn(low: float, high: float, log: bool) -> tuple[float, float]:
    return (math.log10(low), math.log10(high)) if log else (float(low), float(high))


def best_so_far_spec(summary: SweepSummary) -> ChartSpec:
    metric = summary.record.metric
    xs = [float(n) for n, _ in summary.best_so_far]
    ys = [v for _, v in summary.best_so_far]
    return ChartSpec(f"best {metric} so far", [Series(metric, xs, ys, color="cyan", legend=False)],
                     xlabel="trial", short_titles=(f"best {metric}", "best"), whole_x=True,
                     empty="no trial complete yet")


def param_spec(summary: SweepSummary, param: Param, where: str = "") -> ScatterSpec:
    """One scatter: each complete trial's value of ``param`` against its metric."""
    metric = summary.record.metric
    xs: list[float] = []
    ys: list[float] = []
    for trial in summary.trials:
        if trial.state != "complete" or trial.value is None or param.name not in trial.params:
            continue
        x = _x(param, trial.params[param.name])
        if x is not None:
            xs.append(x)
            ys.append(trial.value)
    title = f"{metric} by {param.name}{' (log)' if param.log else ''}{where}"
    xlim = ((-0.5, len(param.choices) - 0.5) if param.choices else param.limits)
    return ScatterSpec(title, [Series(metric, xs, ys, color="magenta", marker="dot",
                                               legend=False)],
                       xlabel=param.name, xlim=xlim, short_titles=(param.name + where,),
                       empty="no trial complete yet", xticks=_ticks(param))


def _x(param: Param, value: Any) -> float | None:
    if param.choices:
        word = _word(value)
        return float(param.choices.index(word)) if word in param.choices else None
    if not isinstance(value, int | float):
        return None
    if param.log:
        return math.log10(value) if value > 0 else None
    return float(value)


def _ticks(param: Param) -> tuple[list[float], list[str]] | None:
    if param.choices:
        return [float(i) for i in range(len(param.choices))], list(param.choices)
    if param.log and param.limits:
        return log_ticks(*param.limits)
    return None


def importance_text(importances: dict[str, float], width: int = 10) -> str:
    """``importance: max_lr ██████ 0.72  optimizer ██ 0.28``: Optuna's fANOVA shares."""
    if not importances:
        return ""
    parts = []
    for name, share in sorted(importances.items(), key=lambda kv: -kv[1]):
        bar = "█" * max(1, round(share * width)) if share > 0 else "·"
        parts.append(f"{name} {bar} {share:.2f}")
    return "importance: " + "  ".join(parts)


class ScatterChart(MetricChart):
    """Points, not lines (trials have no order along a parameter), with fixed x ticks."""

    def _build(self, width: int) -> None:
        spec, plt = self.spec, self.plt
        plt.clear_data()
        plt.clear_figure()
        if spec.xlabel:
            plt.xlabel(spec.xlabel)
        for s in spec.series:
            if s.xs:
                plt.scatter(list(s.xs), list(s.ys), color=s.color, marker=s.marker)
        if self._xrange:
            if spec.xlim is not None:
                plt.xlim(*spec.xlim)
            ticks = getattr(spec, "xticks", None)
            if ticks is not None:
                plt.xticks(*ticks)
        self.plt.title(self.shown_title(width))
