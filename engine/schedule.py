"""The learning-rate schedules as plain functions of the step.

Pure stdlib: training uses them, and the TUI draws the whole plan up front
without importing torch. ``one_cycle`` is torch's OneCycleLR formula (cosine
annealing, div_factor 25, final_div_factor 1e4); a test keeps the two equal.
"""

from __future__ import annotations

import math


def linear_factor(step: int, total_steps: int, pct_start: float) -> float:
    """Linear warm-up to 1 over ``pct_start`` of the steps, then linear decay to 0."""
    warm = max(1, int(total_steps * pct_start))
    if step < warm:
        return (step + 1) / warm
    return max(0.0, (total_steps - step) / max(1, total_steps - warm))


def one_cycle(step: int, total_steps: int, max_lr: float, pct_start: float) -> float:
    """The learning rate OneCycleLR gives at ``step`` (0-based)."""
    initial, final = max_lr / 25, max_lr / 25 / 1e4
    peak = float(pct_start * total_steps) - 1
    if step <= peak:
        start, end, frac = initial, max_lr, step / max(peak, 1e-9)
    else:
        start, end, frac = max_lr, final, (step - peak) / max(total_steps - 1 - peak, 1e-9)
    return end + (start - end) / 2 * (math.cos(math.pi * min(frac, 1.0)) + 1)
