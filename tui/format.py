"""The screens' own formatting (colours, ETA, curves); values read as engine.formatting says."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

from engine.formatting import ago, duration, num, pct  # noqa: F401  (re-exported for the screens)
from engine.schedule import linear_factor, one_cycle

Clock = Callable[[], datetime]

# Rich styles for places that take plain Rich markup (DataTable cells).
STATUS_COLOURS = {
    "queued": "bold yellow",
    "running": "bold cyan",
    "completed": "green",
    "failed": "bold red",
    "cancelled": "bright_black",
    "interrupted": "dark_orange",
    "pruned": "magenta",  # a sweep's pruner stopped it early
}
ACTIVE = ("queued", "running")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def elapsed(started: datetime | None, finished: datetime | None, stored: float | None,
            now: datetime) -> float | None:
    """A run's duration: the stored one when finished, else wall time since it started."""
    if stored is not None:
        return stored
    if started is None:
        return None
    return ((finished or now) - started).total_seconds()


def eta(done_steps: int | None, total_steps: int | None,
        seconds_so_far: float | None) -> float | None:
    """Seconds left, assuming the rate so far holds."""
    if not done_steps or not total_steps or seconds_so_far is None or done_steps <= 0:
        return None
    remaining = max(0, total_steps - done_steps)
    return seconds_so_far / done_steps * remaining


def epochs_progress(current_epoch: int | None, epochs: int) -> str:
    return f"{current_epoch or 0}/{epochs}"


def ema(values: list[float], alpha: float = 0.1) -> list[float]:
    """Exponential moving average; the first value seeds it so the curve starts on the data."""
    out: list[float] = []
    acc: float | None = None
    for v in values:
        acc = v if acc is None else alpha * v + (1 - alpha) * acc
        out.append(acc)
    return out


def planned_lr(schedule: str, max_lr: float, pct_start: float, total_steps: int,
               points: int = 200) -> tuple[list[float], list[float]]:
    """The learning-rate schedule the engine will follow, sampled at ``points`` steps,
    so the chart can show the whole plan up front."""
    if total_steps <= 0:
        return [], []
    steps = sorted({round(i * (total_steps - 1) / max(1, points - 1)) for i in range(points)})
    if schedule == "linear":
        ys = [max_lr * linear_factor(step, total_steps, pct_start) for step in steps]
    else:
        ys = [one_cycle(step, total_steps, max_lr, pct_start) for step in steps]
    return [s + 1 for s in steps], ys  # the engine counts steps from 1


def settings_differ(count: int) -> str:
    """The compare screens' count: "1 setting differs", "3 settings differ"."""
    return f"{count} setting differs" if count == 1 else f"{count} settings differ"
