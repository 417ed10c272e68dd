"""The per-batch learning-rate schedules: one-cycle and linear warm-up/decay."""

from __future__ import annotations

import pytest
import torch

from engine.config import RunConfig
from engine.train import build_scheduler

TOTAL = 200


def lr_trace(schedule: str, pct_start: float = 0.3, max_lr: float = 0.01,
             total: int = TOTAL) -> list[float]:
    """The learning rate each of ``total`` training steps runs at."""
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.Adam([param], lr=max_lr)
    config = RunConfig(schedule=schedule, pct_start=pct_start, max_lr=max_lr)
    scheduler = build_scheduler(optimizer, config, total)
    lrs = []
    for _ in range(total):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def assert_rises_then_falls(lrs: list[float], peak: int) -> None:
    rising, falling = lrs[: peak + 1], lrs[peak:]
    assert all(a <= b for a, b in zip(rising, rising[1:], strict=False)), \
        "not rising up to the peak"
    assert all(a >= b for a, b in zip(falling, falling[1:], strict=False)), \
        "not falling after the peak"


def test_onecycle_peaks_at_max_lr_near_thirty_percent_of_steps() -> None:
    lrs = lr_trace("onecycle")
    peak = max(range(TOTAL), key=lrs.__getitem__)
    assert abs(peak - 0.3 * TOTAL) <= 2
    assert lrs[peak] == pytest.approx(0.01, rel=1e-3)
    assert_rises_then_falls(lrs, peak)


def test_onecycle_starts_low_and_ends_near_zero() -> None:
    lrs = lr_trace("onecycle")
    assert lrs[0] == pytest.approx(0.01 / 25, rel=1e-3)  # torch's default div_factor
    assert lrs[-1] < 0.01 * 1e-3


@pytest.mark.parametrize("schedule", ["onecycle", "linear"])
@pytest.mark.parametrize("pct_start", [0.1, 0.5])
def test_pct_start_moves_the_peak(schedule: str, pct_start: float) -> None:
    lrs = lr_trace(schedule, pct_start=pct_start)
    peak = max(range(TOTAL), key=lrs.__getitem__)
    assert abs(peak - pct_start * TOTAL) <= 2


def test_linear_schedule_warms_up_then_decays_to_near_zero() -> None:
    lrs = lr_trace("linear")
    peak = max(range(TOTAL), key=lrs.__getitem__)
    assert_rises_then_falls(lrs, peak)
    assert lrs[peak] == pytest.approx(0.01)
    assert lrs[0] < 0.01 * 0.05
    assert lrs[-1] < 0.01 * 0.02



def test_the_pure_one_cycle_formula_matches_torchs_one_cycle_lr() -> None:
    from engine.schedule import one_cycle

    total, max_lr, pct = 97, 0.01, 0.3
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([param], lr=max_lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, total_steps=total,
                                                pct_start=pct)
    for step in range(total):
        expected = one_cycle(step, total, max_lr, pct)
        assert opt.param_groups[0]["lr"] == pytest.approx(expected, rel=1e-9)
        opt.step()
        sched.step()
