"""The detail screen's "System while it ran": a run's stored samples summarised, a finished
run's GPU use included, with a failed run's error still first at 80x24."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from support.fake_machine import GPUS
from support.tui_seed import NOW, settle, until
from textual.widgets import Static

from engine.events import GpuSample, SystemSample
from storage.runs import RunStore
from tui.screens import detail
from tui.screens.detail import RunDetailScreen
from tui.screens.system import run_system_table


def samples(n: int = 12, t0: float = 1_700_000_000.0) -> list[SystemSample]:
    """Every 5 s: GPU 0 busy (util 75..97 %, memory up to 70 GiB), GPU 1 idle and powerless."""
    out = []
    for i in range(n):
        busy = GpuSample(index=0, name=GPUS[0].name, util_pct=75.0 + 2 * i,
                         mem_used_mb=60_000.0 + 1_000 * i, mem_total_mb=81_559.0,
                         temp_c=70.0 + i, power_w=300.0 + 10 * i)
        out.append(SystemSample(cpu_pct=30.0 + i, ram_used_mb=5_000.0 + 100 * i,
                                ram_total_mb=16_000.0, disk_used_pct=63.0,
                                gpus=(busy, GPUS[1]), time=t0 + 5 * i))
    return out


def text(screen, selector: str) -> str:  # noqa: ANN001
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(screen.query_one(selector, Static).content)
    return console.export_text()


async def open_detail(app, pilot, run_id: int) -> RunDetailScreen:  # noqa: ANN001
    await settle(pilot)
    screen = RunDetailScreen(run_id)
    await app.push_screen(screen)
    await settle(pilot)
    return screen


def table_lines(samples_: list[SystemSample]) -> list[str]:
    """The summary's rows, each with its runs of spaces made one."""
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(run_system_table(samples_))
    return [" ".join(line.split()) for line in console.export_text().splitlines()]


def test_the_summary_reads_mean_and_peak_figures_per_gpu() -> None:
    lines = table_lines(samples())
    assert lines[:2] == ["samples 12 over 55s", "GPU 0 NVIDIA H100 80GB HBM3"]
    assert lines[2:6] == ["util mean 86% · max 97%", "memory peak 69.3/79.6 GiB",
                          "temp max 81 °C", "power mean 355 W"]
    assert lines[6:11] == ["GPU 1 NVIDIA A10", "util mean 3% · max 3%",
                           "memory peak 0.5/22.5 GiB", "temp max 38 °C",
                           "power mean –"]  # GPU 1 never told its power
    assert lines[11:] == ["CPU mean 36%", "RAM peak 6.0/15.6 GiB"]


def test_a_cpu_only_run_says_no_gpu_was_seen() -> None:
    plain = [SystemSample(cpu_pct=90.0, ram_used_mb=1024.0, ram_total_mb=2048.0,
                          disk_used_pct=10.0, time=float(t)) for t in (0, 5)]
    assert table_lines(plain) == ["samples 2 over 5s", "GPU none seen", "CPU mean 90%",
                                  "RAM peak 1.0/2.0 GiB"]


async def test_a_finished_run_still_shows_its_gpu_use(app, store: RunStore, seeded) -> None:  # noqa: ANN001
    store.add_system_samples(seeded["baseline"], samples())
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_detail(app, pilot, seeded["baseline"])
        shown = text(screen, "#detail-system")
        assert store.get_run(seeded["baseline"]).status == "completed"
        assert "12 over 55s" in shown and "mean 86% · max 97%" in shown
        assert "69.3/79.6 GiB" in shown and "NVIDIA A10" in shown
        system = screen.query_one("#detail-system")
        assert system.region.bottom <= 38  # in sight on opening, beside the config


async def test_a_run_without_samples_says_so(app, seeded) -> None:  # noqa: ANN001
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_detail(app, pilot, seeded["wide"])
        assert "no system samples recorded" in text(screen, "#detail-system")


async def test_a_failed_runs_error_stays_first_at_80x24(app, store: RunStore, seeded) -> None:  # noqa: ANN001
    store.add_system_samples(seeded["broken"], samples(3))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_detail(app, pilot, seeded["broken"])
        error = screen.query_one("#detail-error", Static)
        assert screen.query_one("#detail").children[0] is error
        assert error.region.y <= 2 and error.region.bottom <= 23
        assert "3 over 10s" in text(screen, "#detail-system")  # there, below the fold


async def test_a_running_runs_samples_are_reread_as_they_come(
        store: RunStore, seeded, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    from tui.app import make_app

    monkeypatch.setattr(detail, "SAMPLES_EVERY_S", 0.0)  # as often as the app polls
    app = make_app(store=store, poll_interval=0.05, clock=lambda: NOW,
                   start_worker=lambda _url: 1, worker_alive=lambda: False)
    live = seeded["live"]
    async with app.run_test(size=(120, 40)) as pilot:
        screen = RunDetailScreen(live)
        await app.push_screen(screen)
        await until(pilot, lambda: "no system samples" in text(screen, "#detail-system"))
        store.add_system_samples(live, samples(4))
        await until(pilot, lambda: "4 over 15s" in text(screen, "#detail-system"))
