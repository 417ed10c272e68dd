"""The TUI's workers panel with one worker process on two GPUs (faked: no GPU here): each
device's row names its run(s), their images/s and the GPU's utilisation and memory, and
the table fits 80 columns."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.clock import FixedTime
from support.fake_machine import GPUS
from support.store import cfg
from support.tui_seed import NOW, settle
from support.workers import FakeWorkers
from textual.widgets import DataTable, Static

from engine.events import StepMetrics
from storage.runs import RunStore
from tui.app import make_app
from tui.screens.workers import WorkersScreen
from worker import machine
from worker.launcher import make_worker_id


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    with RunStore(f"sqlite:///{tmp_path / 'runs.db'}", clock=FixedTime()) as s:
        yield s


def claim(store: RunStore, name: str, device: str, slot: int, speed: float | None) -> int:
    host = socket.gethostname()
    run_id = store.create_run(cfg(name=name))
    assert store.claim_next_run(make_worker_id(host, 4243, device, slot), device, host)
    if speed is not None:
        store.append_steps(run_id, [StepMetrics(step=1, epoch=1, loss=2.0, lr=0.01,
                                                images_per_s=speed)])
    return run_id


def rows(table: DataTable) -> list[str]:
    return [" | ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]


async def test_two_gpus_show_their_runs_speed_and_memory_in_80_columns(
        store: RunStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(machine, "read_gpus", lambda: (GPUS, None))
    monkeypatch.setenv("SLURM_JOB_ID", "9001")
    first = claim(store, "sweep-a", "cuda:0", 0, 5180.0)
    second = claim(store, "sweep-b", "cuda:1", 0, 2000.0)
    claim(store, "sweep-c", "cuda:1", 1, 1500.0)  # sharing cuda:1 (--runs-per-device 2)
    workers = FakeWorkers(store.store_id, NOW.timestamp() - 754, tmp_path)
    workers.add_devices(store.store_id, ["cuda:0", "cuda:1"], 4243, ["claimed"])
    app = make_app(store=store, poll_interval=None, clock=lambda: NOW, **workers.app_kwargs())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("w")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, WorkersScreen)
        table = screen.query_one(DataTable)
        shown = rows(table)
        assert shown[0] == (f"this store | cuda:0 | 4243 | 12m | #{first} sweep-a\n"
                            "5,180 img/s GPU 97% 60/80G")
        assert shown[1] == (f"this store | cuda:1 | 4243 | 12m | #{second} sweep-b +1\n"
                            "3,500 img/s GPU 3% 0.5/22G")
        assert table.virtual_size.width <= table.scrollable_content_region.width, \
            "the table fits 80 columns without scrolling sideways"
        title = str(screen.query_one("#workers-log-title", Static).content)
        assert "pid 4243, slurm job 9001" in title


async def test_cpu_devices_show_no_gpu_figures(
        store: RunStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_nvml_call() -> tuple:
        raise AssertionError("NVML is read only for a cuda device")

    monkeypatch.setattr(machine, "read_gpus", no_nvml_call)
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    run = claim(store, "on-cpu", "cpu:1", 0, None)
    workers = FakeWorkers(store.store_id, NOW.timestamp() - 754, tmp_path)
    workers.add_devices(store.store_id, ["cpu:0", "cpu:1"], 4243, ["claimed"])
    app = make_app(store=store, poll_interval=None, clock=lambda: NOW, **workers.app_kwargs())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("w")
        await settle(pilot)
        shown = rows(app.screen.query_one(DataTable))
    assert shown == ["this store | cpu:0 | 4243 | 12m | idle",
                     f"this store | cpu:1 | 4243 | 12m | #{run} on-cpu"]
